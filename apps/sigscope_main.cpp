// sigscope command-line entry point: parses arguments and calls the command
// functions in src/sigscope/app.
#include <unistd.h>

#include <csignal>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "sigscope/app/commands.h"
#include "sigscope/app/hunt.h"

namespace {

void setup_logging(bool verbose, bool quiet) {
  // Status messages and diagnostics go to stderr; results go to stdout.
  auto status = spdlog::stderr_color_mt("sigscope");
  status->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(status);
  spdlog::level::level_enum level = spdlog::level::info;
  if (verbose) level = spdlog::level::debug;
  if (quiet) level = spdlog::level::err;
  spdlog::set_level(level);
  auto diagnostics = spdlog::stderr_color_mt("diagnostics");
  diagnostics->set_pattern("%v");
  diagnostics->set_level(quiet ? spdlog::level::err : spdlog::level::info);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sigscope: catalog and run Sigma detection rules\n\n"
               "Exit status: 0 on success; 1 when rules failed to load (check, catalog --strict), an\n"
               "explained rule cannot run, or hunt --fail-on-detections found detections; 2 on usage\n"
               "errors, no rule that can run, no readable input, or output that cannot be written;\n"
               "3 when hunt could not read some inputs or records but hunted the rest. A hunt whose\n"
               "standard output is closed by its reader (| head) stops early with status 0."};
  app.set_version_flag("--version", std::string("sigscope ") + SIGSCOPE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // -v and -q also work after the subcommand name
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Log debug messages");
  app.add_flag("-q,--quiet", quiet, "Log only errors");

  sigscope::CatalogOptions catalog;
  auto* catalog_cmd = app.add_subcommand("catalog", "Build a static catalog site from Sigma rules");
  catalog_cmd->add_option("paths", catalog.paths, "Rule files or folders (searched recursively)")->required();
  catalog_cmd->add_option("-o,--out", catalog.out_dir, "Output folder for the site")->capture_default_str();
  catalog_cmd->add_option("-j,--threads", catalog.threads, "Worker threads (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  catalog_cmd->add_flag("--strict", catalog.strict, "Exit with status 1 when any rule fails to load");
  catalog_cmd->add_option("--max-warnings", catalog.max_warnings, "Warnings printed before the rest are only counted")
      ->capture_default_str();

  sigscope::ExplainOptions explain;
  auto* explain_cmd = app.add_subcommand("explain", "Print one rule's catalog page as Markdown");
  explain_cmd->add_option("rule_file", explain.rule_file,
                          "Rule file to explain (every rule document in it; a folder explains every file in it)")
      ->required();
  explain_cmd->add_option("--corpus", explain.corpus, "Rule files or folders to count shared indicators in");
  explain_cmd->add_option("--format", explain.format, "Output format")
      ->check(CLI::IsMember({"markdown", "json"}))
      ->capture_default_str();

  sigscope::CheckOptions check;
  auto* check_cmd = app.add_subcommand("check", "Load and compile rules, report every problem");
  check_cmd->add_option("paths", check.paths, "Rule files or folders")->required();
  check_cmd->add_option("-j,--threads", check.threads, "Worker threads (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  check_cmd->add_option("--max-warnings", check.max_warnings, "Warnings printed before the rest are only counted")
      ->capture_default_str();

  sigscope::HuntOptions hunt;
  auto* hunt_cmd = app.add_subcommand("hunt", "Run detection rules over EVTX and JSON logs");
  hunt_cmd->add_option("-r,--rules", hunt.rules, "Rule file or folder (repeat the option for several)")
      ->required()
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  hunt_cmd->add_option("inputs", hunt.inputs, "Log files or folders (EVTX, JSON lines, JSON arrays, "
                                              "evtx_dump JSON; gzip or zstd compressed); - for stdin")
      ->required();
  hunt_cmd->add_option("-f,--format", hunt.format, "Detection format (auto: table on a terminal, else jsonl)")
      ->check(CLI::IsMember({"auto", "jsonl", "csv", "table"}))
      ->capture_default_str();
  hunt_cmd->add_option("-o,--output", hunt.output, "Write detections to this file instead of stdout");
  hunt_cmd->add_option("--min-level", hunt.min_level, "Run only rules of this level or higher")
      ->check(CLI::IsMember({"informational", "low", "medium", "high", "critical"}));
  hunt_cmd->add_option("-p,--pipeline", hunt.pipelines, "Processing pipeline name or YAML file (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  hunt_cmd->add_option("--logsource", hunt.logsource,
                       "Logsource of events without a Channel field, e.g. product:windows or "
                       "category:process_creation,product:windows; rules for other products are not run on them");
  hunt_cmd->add_flag("--no-routing", hunt.no_routing, "Send every event to every rule, ignoring Channel and EventID");
  hunt_cmd->add_flag("--all-statuses", hunt.all_statuses, "Also run rules whose status is deprecated or unsupported");
  hunt_cmd->add_option("-j,--threads", hunt.threads, "Worker threads (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  hunt_cmd->add_option("--max-warnings", hunt.max_warnings, "Rule warnings printed before the rest are only counted")
      ->capture_default_str();
  hunt_cmd->add_option("--explain", hunt.explain_rule, "Explain this rule id on one record instead of hunting");
  hunt_cmd->add_flag("--fail-on-detections", hunt.fail_on_detections,
                     "Exit with status 1 when any rule fired (for CI); unreadable inputs still give 3");
  auto* record_option = hunt_cmd->add_option("--record", hunt.explain_record, "Record number (1-based) that --explain looks at")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
    if (*record_option && hunt.explain_rule.empty())
      throw CLI::ValidationError("--record", "--record needs --explain RULE_ID");
  } catch (const CLI::ParseError& e) {
    // Help and version exit with 0; every usage error with 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  setup_logging(verbose, quiet);
  // A closed pipe on standard output shows up as EPIPE from write(), which
  // the commands handle, instead of killing the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  if (*catalog_cmd) return sigscope::run_catalog(catalog);
  if (*explain_cmd) return sigscope::run_explain(explain);
  if (*check_cmd) return sigscope::run_check(check);
  if (*hunt_cmd) return sigscope::run_hunt(hunt);
  return 2;
}
