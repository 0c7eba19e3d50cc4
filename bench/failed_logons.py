#!/usr/bin/env python3
"""Writes N Security 4625 (failed logon) events as JSON lines, for the
correlation memory benchmark: 5,000 user names, addresses from 65,536
(10.0.x.y), ten events per second from 2024-05-01.

    bench/failed_logons.py OUT N
"""
import random
import sys


def main() -> int:
    out, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(1)
    with open(out, "w") as f:
        for i in range(count):
            s = i // 10
            f.write(
                '{"Channel":"Security","EventID":4625,"TargetUserName":"user%d","IpAddress":"10.0.%d.%d",'
                '"TimeCreated":"2024-05-%02dT%02d:%02d:%02d.%06dZ"}\n'
                % (rng.randrange(5000), rng.randrange(256), rng.randrange(256), 1 + s // 86400 % 28,
                   s // 3600 % 24, s // 60 % 60, s % 60, i % 1000000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
