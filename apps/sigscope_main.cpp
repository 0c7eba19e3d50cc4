// sigscope command-line entry point: parses arguments and calls the command
// functions in src/sigscope/app.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "sigscope/app/commands.h"
#include "sigscope/app/convert_command.h"
#include "sigscope/app/hunt.h"
#include "sigscope/app/overlap_command.h"

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
               "Exit status: 0 on success; 1 when rules failed to load (check, catalog --strict), check\n"
               "found problems at or above --fail-level, an explained rule cannot run, hunt\n"
               "--fail-on-detections found detections, or layer --fail-on-gaps found a technique of\n"
               "the baseline without a rule; 2 on usage errors, no rule that can run, no readable\n"
               "input, or output that cannot be written; 3 when hunt could not read some inputs or\n"
               "records but hunted the rest. A hunt whose standard output is closed by its reader\n"
               "(| head) stops early with status 0."};
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
  explain_cmd->add_option("--format", explain.format,
                          "Output format (json: an array with one page object per rule, even for one rule)")
      ->check(CLI::IsMember({"markdown", "json"}))
      ->capture_default_str();

  sigscope::CheckOptions check;
  check.tool_version = SIGSCOPE_VERSION;
  auto* check_cmd = app.add_subcommand("check", "Load, compile and lint rules, report every problem");
  check_cmd->footer(
      "Checks: the counterparts of pySigma's core validators plus semantic checks over the\n"
      "compiled rules; --list-checks lists them, docs/lint.md describes them.\n\n"
      "Exit status: 0 when every rule loaded and no finding is at or above --fail-level;\n"
      "1 when a rule failed to load or compile, or a finding is at or above --fail-level;\n"
      "2 on usage errors, an invalid --config, no rule files or an unwritable --output.");
  check_cmd->add_option("paths", check.paths, "Rule files or folders");
  check_cmd->add_option("-f,--format", check.format, "Report format")
      ->check(CLI::IsMember({"text", "json", "sarif"}))
      ->capture_default_str();
  check_cmd->add_option("-c,--config", check.config,
                        "YAML file: enable/disable checks, exclude rules per check, override severities");
  check_cmd->add_option("-p,--pipeline", check.pipelines,
                        "Processing pipeline name or YAML file (repeatable) whose placeholder values count as "
                        "set for unresolved-placeholder; the other checks see the rules as written")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  check_cmd->add_option("--fail-level", check.fail_level, "Lowest finding severity that makes the exit status 1")
      ->check(CLI::IsMember({"error", "warning", "info", "none"}))
      ->capture_default_str();
  check_cmd->add_option("-o,--output", check.output, "Write the report to this file instead of stdout");
  check_cmd->add_flag("--list-checks", check.list_checks, "List every check with its severity and default state");
  check_cmd->add_option("-j,--threads", check.threads, "Worker threads (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  check_cmd->add_option("--max-warnings", check.max_warnings, "Load warnings printed before the rest are only counted")
      ->capture_default_str();

  sigscope::LayerCommandOptions layer;
  auto* layer_cmd = app.add_subcommand("layer", "Write an ATT&CK Navigator layer (format 4.5) of the rules' coverage");
  layer_cmd->add_option("paths", layer.paths, "Rule files or folders")->required();
  layer_cmd->add_option("-o,--output", layer.output, "Write the layer to this file instead of stdout");
  layer_cmd->add_option("--score", layer.score,
                        "Technique score: count (rules per technique) or level (highest rule level, 1-5)")
      ->check(CLI::IsMember({"count", "level"}))
      ->capture_default_str();
  layer_cmd->add_option("--base-url", layer.base_url,
                        "Catalog address the rule page links start with, e.g. https://example.org/catalog/ "
                        "(default: links relative to the catalog folder)");
  layer_cmd->add_option("-j,--threads", layer.threads, "Worker threads (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  layer_cmd->add_option("--max-warnings", layer.max_warnings, "Warnings printed before the rest are only counted")
      ->capture_default_str();
  layer_cmd->add_option("--baseline", layer.baseline,
                        "Techniques that should be covered: a Navigator layer, or a text file of technique ids; "
                        "the ones without a rule are listed on stderr")
      ->check(CLI::ExistingFile);
  layer_cmd->add_option("--gaps-output", layer.gaps_output,
                        "Write a layer of the baseline's techniques to this file: red without a rule, green with");
  layer_cmd->add_flag("--fail-on-gaps", layer.fail_on_gaps,
                      "Exit with status 1 when a technique of the baseline has no rule (for CI)");

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
  hunt_cmd->add_option("--correlation-memory", hunt.correlation_memory_mib,
                       "MiB of correlation hits kept in memory; beyond it they move to temporary files in $TMPDIR")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  hunt_cmd->add_option("--explain", hunt.explain_rule, "Explain this rule (id or name) on one record instead of hunting");
  hunt_cmd->add_flag("--fail-on-detections", hunt.fail_on_detections,
                     "Exit with status 1 when any rule fired (for CI); unreadable inputs still give 3");
  auto* record_option = hunt_cmd->add_option("--record", hunt.explain_record, "Record number (1-based) that --explain looks at")
      ->capture_default_str();

  sigscope::OverlapCommandOptions overlap;
  auto* overlap_cmd = app.add_subcommand("overlap", "Find equivalent and subsumed rule pairs on the same logsource");
  overlap_cmd->add_option("paths", overlap.paths, "Rule files or folders")->required();
  overlap_cmd->add_option("--format", overlap.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  overlap_cmd->add_option("-o,--output", overlap.output, "Write the report to this file instead of stdout");
  overlap_cmd->add_option("--max-conjuncts", overlap.max_conjuncts,
                          "Skip rules whose normal form has more AND branches than this")
      ->capture_default_str();
  overlap_cmd->add_option("-j,--threads", overlap.threads, "Worker threads for loading (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  overlap_cmd->add_option("--max-warnings", overlap.max_warnings, "Rule warnings printed before the rest are only counted")
      ->capture_default_str();

  sigscope::ConvertOptions convert;
  auto* convert_cmd = app.add_subcommand("convert", "Write detection rules as ClickHouse SQL queries");
  convert_cmd->add_option("paths", convert.paths, "Rule files or folders")->required();
  convert_cmd->add_option("-t,--target", convert.target, "Query language")
      ->check(CLI::IsMember({"clickhouse"}))
      ->capture_default_str();
  convert_cmd->add_option("--table", convert.table, "Table the queries read (database.table allowed)")
      ->capture_default_str();
  convert_cmd->add_option("--keyword-column", convert.keyword_column,
                          "Column that keyword searches read, such as one holding the whole event as text "
                          "(default: keyword rules are not converted)");
  convert_cmd->add_option("-p,--pipeline", convert.pipelines, "Processing pipeline name or YAML file (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  convert_cmd->add_flag("--no-routing", convert.no_routing,
                        "Leave out the Channel and EventID conditions of each rule's logsource");
  convert_cmd->add_flag("--all-statuses", convert.all_statuses, "Also convert rules whose status is deprecated or unsupported");
  convert_cmd->add_option("-o,--output", convert.output, "Write the queries to this file instead of stdout");
  convert_cmd->add_option("-j,--threads", convert.threads, "Worker threads for loading (0: one per core; at most 256)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  convert_cmd->add_option("--max-warnings", convert.max_warnings, "Rule warnings printed before the rest are only counted")
      ->capture_default_str();

  // CLI11 reports a misspelled command as "A subcommand is required", which
  // does not name the word. The first argument that is not an option must
  // be a command.
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    std::vector<std::string> names;
    for (const auto* command : app.get_subcommands({})) names.push_back(command->get_name());
    if (std::find(names.begin(), names.end(), word) == names.end()) {
      std::fprintf(stderr, "error: unknown command '%s'; the commands are %s (see sigscope --help)\n", word.c_str(),
                   fmt::format("{}", fmt::join(names, ", ")).c_str());
      return 2;
    }
    break;
  }
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
  if (*overlap_cmd) return sigscope::run_overlap(overlap);
  if (*convert_cmd) return sigscope::run_convert(convert);
  if (*layer_cmd) {
    // A base URL names a folder: rule pages are under it.
    if (!layer.base_url.empty() && layer.base_url.back() != '/') layer.base_url += '/';
    return sigscope::run_layer(layer);
  }
  return 2;
}
