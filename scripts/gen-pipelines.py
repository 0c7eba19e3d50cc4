#!/usr/bin/env python3
"""Generate the shipped processing pipelines under pipelines/.

Usage: scripts/gen-pipelines.py

Writes pipelines/ecs-windows.yml, pipelines/winlogbeat-sysmon.yml and
pipelines/sysmon.yml. The channels and event ids per Sigma logsource come
from data/logsources.json (see data/README.md for its sources); the
Winlogbeat field layout is written out below. sigscope compiles the YAML files
into its binary, so this script only needs to run when either changes.
docs/pipelines.md describes what each pipeline does.
"""
import json
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
logsources = json.loads((root / "data" / "logsources.json").read_text())["windows"]

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

# Fields of the <System> element of a Windows event and their Winlogbeat names
# (Winlogbeat 7 and later, Elastic Agent's Windows integrations).
# Winlogbeat names unnamed <Data> elements param1, param2, ... so Sigma's
# `Data` (all unnamed data, used by classic PowerShell and Application rules)
# becomes an OR over the first DATA_PARAMS of them.
DATA_PARAMS = 10
SYSTEM_FIELDS = {
    "EventID": "winlog.event_id",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "ComputerName": "winlog.computer_name",
    "EventRecordID": "winlog.record_id",
    "Security_UserID": "winlog.user.identifier",
    "Level": "log.level",
    "Keywords": "winlog.keywords",
    "Message": "message",
    "Data": [f"winlog.event_data.param{i}" for i in range(1, DATA_PARAMS + 1)],
}

# Winlogbeat writes the rendered level name in lower case and keyword names
# instead of the numbers and masks that Sigma rules use.
LEVEL_NAMES = {"1": "critical", "2": "error", "3": "warning", "4": "information", "5": "verbose"}
KEYWORD_NAMES = {"0x8010000000000000": "Audit Failure", "0x8020000000000000": "Audit Success"}

# Winlogbeat's sysmon module (x-pack/winlogbeat/module/sysmon, processor
# chains per Sysmon event id) renames these EventData fields to ECS fields and
# removes the originals. Keys are Sigma categories.
PROCESS = {"ProcessGuid": "process.entity_id", "ProcessId": "process.pid", "Image": "process.executable"}
FILE_PATH = {"TargetFilename": "file.path"}
ARCHIVE = {"Archived": "sysmon.file.archived", "IsExecutable": "sysmon.file.is_executable"}
RULE_NAME = {"RuleName": "rule.name"}
SYSMON_RENAMES = {
    "process_creation": {
        **PROCESS,
        "CommandLine": "process.command_line",
        "CurrentDirectory": "process.working_directory",
        "ParentProcessGuid": "process.parent.entity_id",
        "ParentProcessId": "process.parent.pid",
        "ParentImage": "process.parent.executable",
        "ParentCommandLine": "process.parent.command_line",
        "OriginalFileName": "process.pe.original_file_name",
        **RULE_NAME,
    },
    "file_change": {**PROCESS, **FILE_PATH, **RULE_NAME},
    "network_connection": {
        **PROCESS,
        "Protocol": "network.transport",
        "SourceIp": "source.ip",
        "SourceHostname": "source.domain",
        "SourcePort": "source.port",
        "DestinationIp": "destination.ip",
        "DestinationHostname": "destination.domain",
        "DestinationPort": "destination.port",
        "DestinationPortName": "network.protocol",
        "Initiated": "network.direction",
        "SourceIsIpv6": "network.type",
        "DestinationIsIpv6": "network.type",
        **RULE_NAME,
    },
    "process_termination": {**PROCESS, **RULE_NAME},
    "driver_load": {"ImageLoaded": "file.path", **RULE_NAME},
    "image_load": {
        **PROCESS,
        "ImageLoaded": "file.path",
        "OriginalFileName": "file.pe.original_file_name",
        **RULE_NAME,
    },
    "create_remote_thread": {
        "SourceProcessGuid": "process.entity_id",
        "SourceProcessId": "process.pid",
        "SourceImage": "process.executable",
        **RULE_NAME,
    },
    "raw_access_thread": {**PROCESS, "Device": "file.path", **RULE_NAME},
    "process_access": {
        "SourceProcessGUID": "process.entity_id",
        "SourceProcessId": "process.pid",
        "SourceThreadId": "process.thread.id",
        "SourceImage": "process.executable",
        **RULE_NAME,
    },
    "file_event": {**PROCESS, **FILE_PATH, **RULE_NAME},
    "registry_add": {**PROCESS, **RULE_NAME},
    "registry_delete": {**PROCESS, **RULE_NAME},
    "registry_set": {**PROCESS, **RULE_NAME},
    "registry_rename": {**PROCESS, **RULE_NAME},
    "registry_event": {**PROCESS, **RULE_NAME},
    "create_stream_hash": {**PROCESS, **FILE_PATH, **RULE_NAME},
    "pipe_created": {**PROCESS, "PipeName": "file.name", **RULE_NAME},
    "wmi_event": {"Destination": "process.executable", **RULE_NAME},
    "dns_query": {**PROCESS, "QueryName": "dns.question.name", **RULE_NAME},
    "file_delete": {**PROCESS, **FILE_PATH, **ARCHIVE, **RULE_NAME},
    "clipboard_capture": {**PROCESS, **ARCHIVE, **RULE_NAME},
    "process_tampering": {**PROCESS, **ARCHIVE, **RULE_NAME},
    "sysmon_error": {"ID": "error.code"},
}

# Values the sysmon module rewrites along with the field name.
SYSMON_VALUE_MAPS = [
    ("network_connection", ["Initiated"], {"true": "egress", "false": "ingress"}),
    ("network_connection", ["SourceIsIpv6", "DestinationIsIpv6"], {"true": "ipv6", "false": "ipv4"}),
]

# Hashes / Hash ("SHA1=...,MD5=...") become one field per algorithm:
# <namespace>.hash.<algorithm in lower case>, and <namespace>.pe.imphash.
HASH_ALGORITHMS = ["MD5", "SHA1", "SHA256", "IMPHASH"]
SYSMON_HASHES = [
    ("process", "Hashes", ["process_creation", "file_delete", "clipboard_capture", "process_tampering"]),
    ("file", "Hashes", ["driver_load", "image_load"]),
    ("file", "Hash", ["create_stream_hash"]),
]

# Fields the sysmon module removes without a one-to-one replacement. Rules
# that test them cannot be evaluated, so the pipeline rejects them.
SYSMON_LOST_FIELDS = [
    (
        "user",
        ["User"],
        ["process_creation", "network_connection", "wmi_event", "file_delete", "clipboard_capture",
         "process_tampering"],
        "Winlogbeat's sysmon module splits User into user.domain and user.name and removes it, "
        "so this check cannot be evaluated. Use the ecs-windows pipeline for events that keep "
        "winlog.event_data.User.",
    ),
    (
        "dns_results",
        ["QueryResults", "QueryStatus"],
        ["dns_query"],
        "Winlogbeat's sysmon module replaces QueryResults with dns.answers and QueryStatus codes "
        "with names in sysmon.dns.status, so this check cannot be evaluated",
    ),
]

PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "~"}


def scalar(value):
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if PLAIN.match(text) and text.lower() not in YAML_WORDS and not text[0].isdigit():
        return text
    return "'" + text.replace("'", "''") + "'"


def flow(values):
    return "[" + ", ".join(scalar(v) for v in values) + "]"


class Writer:
    def __init__(self, name, priority, header):
        self.lines = [f"# {line}".rstrip() for line in header]
        self.lines += [
            "# Generated by scripts/gen-pipelines.py. Edit the script and regenerate.",
            f"name: {name}",
            f"priority: {priority}",
            "transformations:",
        ]

    def comment(self, text):
        self.lines.append("")
        self.lines.append(f"  # {text}")

    def item(self, id, type, rule_conditions, params, field_conditions=None, field_op=None,
             field_not=False, rule_op=None):
        out = self.lines
        out.append(f"  - id: {id}")
        out.append(f"    type: {type}")
        for key, value in params:
            if isinstance(value, dict):
                out.append(f"    {key}:")
                for k, v in value.items():
                    if isinstance(v, list) and len(flow(v)) > 60:
                        out.append(f"      {scalar(k)}:")
                        out.extend(f"        - {scalar(item)}" for item in v)
                    else:
                        out.append(f"      {scalar(k)}: {flow(v) if isinstance(v, list) else scalar(v)}")
            elif isinstance(value, list):
                out.append(f"    {key}: {flow(value)}")
            else:
                out.append(f"    {key}: {scalar(value)}")
        out.append("    rule_conditions:")
        for condition in rule_conditions:
            parts = ", ".join(f"{k}: {scalar(v)}" for k, v in condition.items())
            out.append(f"      - {{type: logsource, {parts}}}")
        if rule_op:
            out.append(f"    rule_cond_op: {rule_op}")
        if field_conditions:
            out.append("    field_name_conditions:")
            for condition in field_conditions:
                out.append(f"      - {condition}")
            if field_op:
                out.append(f"    field_name_cond_op: {field_op}")
            if field_not:
                out.append("    field_name_cond_not: true")

    def write(self, path):
        path.write_text("\n".join(self.lines) + "\n")
        print(f"wrote {path}")


WINDOWS = {"product": "windows"}


def include_fields(fields):
    return "{type: include_fields, fields: " + flow(fields) + "}"


def channel_values(channels):
    # One source lists a channel with the "WinEventLog:" prefix of Splunk inputs.
    return [c.removeprefix("WinEventLog:") for c in channels]


def category_routes():
    """Yields (category, channels, event ids) for categories with a Sysmon or PowerShell log."""
    for category, entry in sorted(logsources["categories"].items()):
        mappings = [m for m in entry["mappings"] if m["log"] == "sysmon"]
        if not mappings:
            mappings = [m for m in entry["mappings"] if m["log"] in ("powershell", "powershell-classic")]
        if not mappings:
            continue
        mapping = mappings[0]
        yield category, channel_values(mapping["channels"]), mapping["event_ids"]


def service_routes():
    """Yields (service, field kind, values): the channels of a service, or its providers."""
    for service, entry in sorted(logsources["services"].items()):
        if entry["channels"]:
            yield service, "channel", channel_values(entry["channels"])
        elif entry["providers"]:
            yield service, "provider", entry["providers"]


def one_or_list(values):
    return values[0] if len(values) == 1 else values


def add_value_maps(w, prefix):
    w.comment("Winlogbeat writes level and keyword names where rules use numbers and masks.")
    w.item(f"{prefix}_level_names", "map_string", [WINDOWS], [("mapping", LEVEL_NAMES)],
           [include_fields(["Level"])])
    w.item(f"{prefix}_keyword_names", "map_string", [WINDOWS], [("mapping", KEYWORD_NAMES)],
           [include_fields(["Keywords"])])


def add_field_layout(w, prefix):
    w.comment("Fields of the event's System element.")
    w.item(f"{prefix}_system_fields", "field_name_mapping", [WINDOWS], [("mapping", SYSTEM_FIELDS)])
    w.comment("Every other field is an EventData field. A name with a dot is already mapped.")
    w.item(
        f"{prefix}_event_data",
        "field_name_prefix",
        [WINDOWS],
        [("prefix", "winlog.event_data.")],
        [f"{{type: processing_item_applied, processing_item_id: {prefix}_system_fields}}",
         "{type: include_fields, mode: re, fields: ['\\w+\\.']}"],
        field_op="or",
        field_not=True,
    )


def add_routes(w, prefix, channel_field, event_id_field, provider_field):
    w.comment("Each Windows category selects its channel and event ids.")
    for category, channels, event_ids in category_routes():
        w.item(f"{prefix}_category_{category}", "add_condition",
               [{**WINDOWS, "category": category}],
               [("conditions", {channel_field: one_or_list(channels),
                                event_id_field: one_or_list(event_ids)})])
    if not provider_field:
        return
    w.comment("Each Windows service selects its channels, or its providers where no channel is known.")
    for service, kind, values in service_routes():
        field = channel_field if kind == "channel" else provider_field
        w.item(f"{prefix}_service_{service}", "add_condition", [{**WINDOWS, "service": service}],
               [("conditions", {field: one_or_list(values)})])


def ecs_windows():
    w = Writer("ecs-windows", 20, [
        "Winlogbeat and Elastic Agent Windows events in the layout that the Windows event log",
        "input writes: System fields under winlog.* and every EventData field as",
        "winlog.event_data.<Field>. Rules of a Windows category or service also require the",
        "matching winlog.channel and winlog.event_id. Sysmon events that went through",
        "Winlogbeat's sysmon module need winlogbeat-sysmon instead.",
    ])
    add_value_maps(w, "ecs_windows")
    add_field_layout(w, "ecs_windows")
    add_routes(w, "ecs_windows", "winlog.channel", "winlog.event_id", "winlog.provider_name")
    w.write(root / "pipelines" / "ecs-windows.yml")


def winlogbeat_sysmon():
    w = Writer("winlogbeat-sysmon", 20, [
        "ecs-windows for Sysmon events processed by Winlogbeat's sysmon module (or an ingest",
        "pipeline that does the same), which renames EventData fields to ECS fields such as",
        "process.executable, process.command_line and file.path, splits Hashes into one field",
        "per algorithm, and removes User. Other channels keep the ecs-windows layout.",
    ])
    add_value_maps(w, "winlogbeat_sysmon")

    w.comment("Values the sysmon module rewrites along with the field name.")
    for category, fields, mapping in SYSMON_VALUE_MAPS:
        w.item(f"winlogbeat_sysmon_values_{fields[0].lower()}", "map_string",
               [{**WINDOWS, "category": category}], [("mapping", mapping)], [include_fields(fields)])

    w.comment("Checks on fields the sysmon module removes reject the rule.")
    for name, fields, categories, message in SYSMON_LOST_FIELDS:
        w.item(f"winlogbeat_sysmon_lost_{name}", "detection_item_failure",
               [{**WINDOWS, "category": c} for c in categories], [("message", message)],
               [include_fields(fields)], rule_op="or" if len(categories) > 1 else None)

    w.comment("Hashes become one field per algorithm.")
    hash_names = {}
    for namespace, field, categories in SYSMON_HASHES:
        w.item(f"winlogbeat_sysmon_{namespace}_{field.lower()}", "hashes_fields",
               [{**WINDOWS, "category": c} for c in categories],
               [("valid_hash_algos", HASH_ALGORITHMS), ("field_prefix", f"{namespace}.hash.")],
               [include_fields([field])], rule_op="or" if len(categories) > 1 else None)
        for algorithm in HASH_ALGORITHMS:
            if algorithm == "IMPHASH":
                target = f"{namespace}.pe.imphash"
            else:
                target = f"{namespace}.hash.{algorithm.lower()}"
            hash_names[f"{namespace}.hash.{algorithm}"] = target
    w.item("winlogbeat_sysmon_hash_names", "field_name_mapping", [WINDOWS], [("mapping", hash_names)])

    w.comment("EventData fields that the sysmon module renames, per category.")
    for category, renames in SYSMON_RENAMES.items():
        w.item(f"winlogbeat_sysmon_fields_{category}", "field_name_mapping",
               [{**WINDOWS, "category": category}], [("mapping", renames)])

    add_field_layout(w, "winlogbeat_sysmon")
    add_routes(w, "winlogbeat_sysmon", "winlog.channel", "winlog.event_id", "winlog.provider_name")
    w.write(root / "pipelines" / "winlogbeat-sysmon.yml")


def sysmon():
    w = Writer("sysmon", 10, [
        "Sysmon events exported as plain JSON with Sigma's field names (EventID, Channel, Image,",
        "CommandLine...), without routing by log source: rules of a generic Windows category",
        "also require the Sysmon channel and the category's Sysmon event ids.",
    ])
    w.comment("Each Windows category with a Sysmon event selects the channel and event ids.")
    for category, entry in sorted(logsources["categories"].items()):
        mappings = [m for m in entry["mappings"] if m["log"] == "sysmon"]
        if not mappings:
            continue
        w.item(f"sysmon_category_{category}", "add_condition", [{**WINDOWS, "category": category}],
               [("conditions", {"Channel": SYSMON_CHANNEL,
                                "EventID": one_or_list(mappings[0]["event_ids"])})])
    w.comment("Rules written for the Sysmon service select its channel.")
    w.item("sysmon_service", "add_condition", [{**WINDOWS, "service": "sysmon"}],
           [("conditions", {"Channel": SYSMON_CHANNEL})])
    w.write(root / "pipelines" / "sysmon.yml")


ecs_windows()
winlogbeat_sysmon()
sysmon()
