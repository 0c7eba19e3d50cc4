#include "sigscope/app/hunt.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/app/rule_corpus.h"
#include "sigscope/common/progress.h"
#include "sigscope/common/text.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/match/engine.h"
#include "sigscope/output/detections.h"
#include "sigscope/pipeline/pipeline.h"

namespace sigscope {

namespace {

int level_rank(const std::string& level) {
  if (level == "informational") return 1;
  if (level == "low") return 2;
  if (level == "medium") return 3;
  if (level == "high") return 4;
  if (level == "critical") return 5;
  return 0;
}

std::optional<Logsource> parse_logsource(const std::string& text) {
  Logsource ls;
  for (const auto& part : split(text, ',')) {
    auto colon = part.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string key(trim(std::string_view(part).substr(0, colon)));
    std::string value(trim(std::string_view(part).substr(colon + 1)));
    if (key == "category") ls.category = value;
    else if (key == "product") ls.product = value;
    else if (key == "service") ls.service = value;
    else return std::nullopt;
  }
  if (ls.empty()) return std::nullopt;
  return ls;
}

// One unit of work: a whole input, or a range of chunks of a large EVTX file.
struct Task {
  std::size_t input = 0;
  std::size_t part = 0;
  std::size_t parts = 1;
};

// Chunks per task when a large EVTX file is split across threads (2 MiB).
constexpr std::size_t kChunksPerTask = 32;
// Bytes per task when a large JSON-lines input is split across threads.
constexpr std::uint64_t kJsonBytesPerTask = 8 << 20;

// An input opened once and shared by its tasks.
struct InputState {
  std::once_flag once;
  bool ok = false;
  std::string skip_reason;
  std::optional<LoadedInput> loaded;
  std::optional<EvtxFile> evtx;
  // JSON lines split into parts: where each part starts and its first line number.
  bool json_lines = false;
  std::vector<std::size_t> part_begin;
  std::vector<std::uint64_t> part_line;
};

// Results of one task, written in task order.
struct TaskResult {
  std::string output;
  ReadStats stats;
  std::vector<std::uint64_t> detections;  // per runnable rule
  std::string skip_reason;                // set when the input was not read
  std::uint64_t regex_limit_hits = 0;
  std::uint64_t channel_less = 0;         // events without a Channel field
};

std::string shipped_pipeline_names() {
  std::vector<std::string> names;
  for (const auto& p : shipped_pipelines()) names.push_back(std::string(p.name));
  return join(names, ", ");
}

std::string display_name(const InputFile& input) { return input.path == "-" ? "<stdin>" : input.path; }

void open_input(const InputFile& input, std::size_t parts, InputState& state, JsonEventReader& json,
                DiagnosticList& diagnostics) {
  state.loaded = load_input(input, diagnostics, state.skip_reason);
  if (!state.loaded) {
    if (state.skip_reason.empty()) state.skip_reason = "unreadable";
    return;
  }
  if (state.loaded->format == InputFormat::Evtx) {
    state.evtx = state.loaded->evtx_bytes
                     ? EvtxFile::from_memory(display_name(input), state.loaded->evtx_bytes, diagnostics)
                     : EvtxFile::open(input.path, diagnostics);
    if (!state.evtx) {
      state.skip_reason = "unreadable";
      return;
    }
    if (state.evtx->framed_record_count() == 0)
      diagnostics.warning(display_name(input), 0, 0, "", "the EVTX file holds no event records",
                          "the log may be empty, or its chunks damaged (see any messages above)");
  }
  if (state.loaded->format == InputFormat::Json && parts > 1) {
    std::string_view text(state.loaded->json.data(), state.loaded->json.size());
    state.json_lines = json.is_json_lines(text);
    if (state.json_lines) {
      // Part k starts at the first line that begins at or after k * size / parts.
      std::size_t pos = 0;
      std::uint64_t line = 1;
      for (std::size_t k = 0; k < parts; ++k) {
        std::size_t target = text.size() * k / parts;
        while (pos < target) {
          std::size_t nl = text.find('\n', pos);
          if (nl == std::string_view::npos || nl >= target) {
            if (nl == std::string_view::npos) pos = text.size();
            else {
              pos = nl + 1;
              ++line;
            }
            break;
          }
          pos = nl + 1;
          ++line;
        }
        state.part_begin.push_back(pos);
        state.part_line.push_back(line);
      }
      state.part_begin.push_back(text.size());
    }
  }
  state.ok = true;
}

// Reads one task's events and matches them; formats detections into the result.
class Worker {
 public:
  Worker(const Engine& engine, DetectionFormat format) : engine_(engine), format_(format), matcher_(engine.matcher()) {}

  void run(const InputFile& input, const Task& task, InputState& state, TaskResult& result, DiagnosticList& diagnostics,
           Progress& progress) {
    result.detections.assign(engine_.rules().size(), 0);
    std::call_once(state.once, [&] { open_input(input, task.parts, state, json_, diagnostics); });
    progress.advance(input.size / task.parts);
    if (!state.ok) {
      if (task.part == 0) result.skip_reason = state.skip_reason;
      return;
    }
    const std::string name = display_name(input);
    auto sink = [&](const RawEvent& event) {
      matcher_->match(event, detections_);
      for (const auto& d : detections_) {
        ++result.detections[d.rule];
        format_detection(format_, DetectionContext{engine_, *matcher_, d, name, event}, result.output);
      }
    };
    std::uint64_t limit_before = matcher_->regex_limit_hits();
    std::uint64_t channel_less_before = matcher_->channel_less_events();
    if (state.loaded->format == InputFormat::Json) {
      std::string_view text(state.loaded->json.data(), state.loaded->json.size());
      if (state.json_lines)
        result.stats = json_.read_lines(text, state.part_begin[task.part], state.part_begin[task.part + 1],
                                        state.part_line[task.part], name, sink, diagnostics);
      else if (task.part == 0)
        result.stats = json_.read(text, name, sink, diagnostics);
    } else {
      const EvtxFile& file = *state.evtx;
      std::size_t per_part = (file.chunk_count() + task.parts - 1) / task.parts;
      std::size_t begin = task.part * per_part;
      std::size_t end = std::min(file.chunk_count(), begin + per_part);
      ChunkStats chunks;
      for (std::size_t c = begin; c < end; ++c) chunks += evtx_.parse_chunk(file, c, sink, diagnostics);
      result.stats.events = chunks.records;
      if (task.part == 0) result.stats.bytes = file.size();
      for (std::uint64_t k = 0; k < chunks.skipped_records; ++k) result.stats.reject("corrupt EVTX record");
      for (std::uint64_t k = 0; k < chunks.bad_chunks; ++k) result.stats.reject("corrupt EVTX chunk");
      if (chunks.checksum_errors > 0) result.stats.repair("EVTX checksum mismatch", chunks.checksum_errors);
      if (chunks.truncated_chunks > 0) result.stats.repair("truncated EVTX chunk", chunks.truncated_chunks);
      if (chunks.repaired_records > 0) result.stats.repair("unpaired UTF-16 surrogates", chunks.repaired_records);
    }
    if (task.part == 0 && state.loaded->replaced_surrogates > 0)
      result.stats.repair("unpaired UTF-16 surrogates", state.loaded->replaced_surrogates);
    result.regex_limit_hits = matcher_->regex_limit_hits() - limit_before;
    result.channel_less = matcher_->channel_less_events() - channel_less_before;
  }

 private:
  const Engine& engine_;
  DetectionFormat format_;
  std::unique_ptr<Matcher> matcher_;
  JsonEventReader json_;
  EvtxChunkParser evtx_;
  std::vector<Detection> detections_;
};

int explain(const Engine& engine, const HuntOptions& options, DiagnosticList& diagnostics) {
  std::uint32_t rule = 0;
  bool found = false;
  for (std::uint32_t i = 0; i < engine.rules().size(); ++i)
    if (engine.rules()[i]->rule.id == options.explain_rule) {
      rule = i;
      found = true;
    }
  if (!found) {
    for (const auto& u : engine.unsupported())
      if (u.id == options.explain_rule) {
        spdlog::error("rule {} is not run: {}", u.id, u.reason);
        return 1;
      }
    spdlog::error("rule {} not found among the loaded rules", options.explain_rule);
    return 2;
  }
  auto inputs = find_inputs(options.inputs, diagnostics);
  if (inputs.size() != 1) {
    spdlog::error("--explain needs exactly one input file, found {}", inputs.size());
    return 2;
  }
  std::string skip;
  auto loaded = load_input(inputs[0], diagnostics, skip);
  if (!loaded) {
    spdlog::error("{}: cannot read the input ({})", inputs[0].path, skip.empty() ? "see above" : skip);
    return 2;
  }
  auto matcher = engine.matcher();
  bool done = false;
  auto sink = [&](const RawEvent& event) {
    if (done || event.record != options.explain_record) return;
    done = true;
    std::string text = matcher->explain(rule, event);
    std::fwrite(text.data(), 1, text.size(), stdout);
  };
  if (loaded->format == InputFormat::Json) {
    JsonEventReader reader;
    reader.read(std::string_view(loaded->json.data(), loaded->json.size()), inputs[0].path, sink, diagnostics);
  } else {
    auto file = loaded->evtx_bytes ? EvtxFile::from_memory(inputs[0].path, loaded->evtx_bytes, diagnostics)
                                   : EvtxFile::open(inputs[0].path, diagnostics);
    EvtxChunkParser parser;
    for (std::size_t c = 0; file && c < file->chunk_count() && !done; ++c) parser.parse_chunk(*file, c, sink, diagnostics);
  }
  for (const auto& d : diagnostics.items()) spdlog::get("diagnostics")->warn(d.format());
  if (!done) {
    spdlog::error("{} has no record {}", inputs[0].path, options.explain_record);
    return 2;
  }
  return 0;
}

}  // namespace

namespace {

void log_diagnostic(const Diagnostic& d) {
  spdlog::get("diagnostics")->log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn, d.format());
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// Writes detections to stdout or a file and remembers the first failure, so
// a full disk cannot lose detections without an error.
class OutputSink {
 public:
  explicit OutputSink(std::string path) : path_(std::move(path)) {}
  ~OutputSink() { close(); }

  bool open() {
    if (path_.empty()) {
      file_ = stdout;
      return true;
    }
    file_ = std::fopen(path_.c_str(), "wb");
    if (!file_) fail();
    return file_ != nullptr;
  }
  void write(std::string_view text) {
    if (failed_ || text.empty()) return;
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) fail();
  }
  // True when standard output was a pipe that its reader closed (`| head`):
  // the reader wants no more, so this is no error.
  bool closed_by_reader() const { return closed_by_reader_; }
  // Flushes and closes; returns false when anything failed.
  bool close() {
    if (!file_) return !failed_;
    if (std::fflush(file_) != 0) fail();
    if (file_ != stdout && std::fclose(file_) != 0) fail();
    file_ = nullptr;
    return !failed_;
  }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  std::string name() const { return path_.empty() ? std::string("standard output") : path_; }

 private:
  void fail() {
    if (failed_) return;
    failed_ = true;
    if (errno == EPIPE && file_ == stdout) {
      closed_by_reader_ = true;
      return;
    }
    error_ = std::strerror(errno);
    spdlog::error("cannot write detections to {}: {}; stopping output (fix the destination and run again)", name(),
                  error_);
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  bool failed_ = false;
  bool closed_by_reader_ = false;
  std::string error_;
};

}  // namespace

int run_hunt(const HuntOptions& options) {
  auto start = std::chrono::steady_clock::now();

  DetectionFormat format = DetectionFormat::Jsonl;
  std::string fmt_name = options.format;
  const bool stdout_is_terminal = options.output.empty() && isatty(STDOUT_FILENO);
  if (fmt_name == "auto") fmt_name = stdout_is_terminal ? "table" : "jsonl";
  if (fmt_name == "csv") format = DetectionFormat::Csv;
  else if (fmt_name == "table") format = DetectionFormat::Table;

  std::optional<Logsource> assumed;
  if (!options.logsource.empty()) {
    assumed = parse_logsource(options.logsource);
    if (!assumed) {
      spdlog::error("invalid --logsource '{}': write e.g. category:process_creation,product:windows", options.logsource);
      return 2;
    }
  }
  int min_rank = 0;
  if (!options.min_level.empty()) {
    min_rank = level_rank(options.min_level);
    if (min_rank == 0) {
      spdlog::error("invalid --min-level '{}': use informational, low, medium, high or critical", options.min_level);
      return 2;
    }
  }

  // Rules.
  CorpusLoad load;
  load_corpus(options.rules, options.threads, load);
  report_corpus(load, options.max_warnings);
  if (load.files == 0) {
    spdlog::error("no rule files found under {}", fmt::join(options.rules, ", "));
    return 2;
  }
  std::size_t below_level = 0, excluded_status = 0;
  std::erase_if(load.rules, [&](const CompiledRule& r) {
    if (r.rule.kind != RuleKind::Detection) return false;
    if (min_rank > 0 && level_rank(r.rule.level) < min_rank) {
      ++below_level;
      return true;
    }
    if (!options.all_statuses && (r.rule.status == "deprecated" || r.rule.status == "unsupported")) {
      ++excluded_status;
      return true;
    }
    return false;
  });
  if (below_level > 0)
    spdlog::info("{} below --min-level {} (rules without a level count as below)", plural(below_level, "rule is", "rules are"),
                 options.min_level);
  if (excluded_status > 0)
    spdlog::info("{} not run because their status is deprecated or unsupported (--all-statuses runs them)",
                 plural(excluded_status, "rule is", "rules are"));
  if (!options.pipelines.empty()) {
    DiagnosticList pipeline_diagnostics;
    auto pipelines = load_pipelines(options.pipelines, pipeline_diagnostics);
    for (const auto& d : pipeline_diagnostics.items()) log_diagnostic(d);
    if (!pipelines) {
      spdlog::error("cannot load the processing pipelines {} (see above); give a shipped pipeline name ({}) or the "
                    "path of a pipeline YAML file",
                    fmt::join(options.pipelines, ", "), shipped_pipeline_names());
      return 2;
    }
    DiagnosticList apply_diagnostics;
    PipelineApplyResult applied = apply_pipelines(*pipelines, load.rules, apply_diagnostics);
    apply_diagnostics.sort();
    std::size_t shown = 0;
    for (const auto& d : apply_diagnostics.items()) {
      if (d.severity == Severity::Warning && shown++ >= options.max_warnings) continue;
      log_diagnostic(d);
    }
    spdlog::info("pipelines applied: {} changed, {} removed ({} rejected by a transformation, {} with "
                 "placeholders that have no value)",
                 plural(applied.changed, "rule", "rules"), plural(applied.failed, "rule", "rules"),
                 applied.rejected.size(), applied.unresolved.size());
  }

  EngineOptions engine_options;
  engine_options.assumed_logsource = assumed;
  engine_options.logsource_routing = !options.no_routing;
  DiagnosticList engine_diagnostics;
  Engine engine(std::move(load.rules), engine_options, engine_diagnostics);
  for (const auto& d : engine_diagnostics.items()) log_diagnostic(d);
  std::map<std::string, std::size_t> unsupported_reasons;
  std::size_t unsupported_shown = 0;
  for (const auto& u : engine.unsupported()) {
    ++unsupported_reasons[u.category];
    if (unsupported_shown++ < options.max_warnings)
      spdlog::get("diagnostics")->warn("{}", escape_control_characters(fmt::format("{}: warning: [rule {}] not run: {}",
                                                                                     u.path, u.id, u.reason)));
  }
  if (unsupported_shown > options.max_warnings)
    spdlog::info("{} more rules that cannot run are not listed (raise --max-warnings)",
                 unsupported_shown - options.max_warnings);
  spdlog::info("running {} ({} shared predicates); {} cannot run", plural(engine.rules().size(), "rule", "rules"),
               engine.predicate_count(), plural(engine.unsupported().size(), "rule", "rules"));
  if (engine.rules().empty()) {
    spdlog::error("no rule can run; check the rule paths and the messages above");
    return 2;
  }
  if (assumed && !engine.reaches_channel_less()) {
    spdlog::error("no loaded rule has the logsource given by --logsource '{}'; check the spelling (e.g. "
                  "category:process_creation,product:windows)",
                  options.logsource);
    return 2;
  }

  if (!options.explain_rule.empty()) {
    DiagnosticList diagnostics;
    return explain(engine, options, diagnostics);
  }

  // Inputs.
  DiagnosticList input_diagnostics;
  std::vector<InputFile> inputs = find_inputs(options.inputs, input_diagnostics);
  const std::size_t missing_inputs = input_diagnostics.error_count();
  std::uint64_t total_bytes = 0;
  for (const auto& i : inputs) total_bytes += i.size;

  OutputSink out(options.output);
  if (!out.open()) return 2;
  if (format == DetectionFormat::Csv) out.write(csv_header());
  if (format == DetectionFormat::Table) out.write(table_header());

  // Large uncompressed EVTX files are split into chunk ranges so several
  // threads share them; everything else is one task per input.
  std::vector<Task> tasks;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::size_t parts = 1;
    if (inputs[i].size > kEvtxFileHeaderSize + kChunksPerTask * kEvtxChunkSize && looks_like_evtx(inputs[i].path)) {
      std::size_t chunks = (inputs[i].size - kEvtxFileHeaderSize + kEvtxChunkSize - 1) / kEvtxChunkSize;
      parts = (chunks + kChunksPerTask - 1) / kChunksPerTask;
    } else if (inputs[i].size > kJsonBytesPerTask) {
      // Split only if the input turns out to be JSON lines; other parts stay empty.
      parts = static_cast<std::size_t>((inputs[i].size + kJsonBytesPerTask - 1) / kJsonBytesPerTask);
    }
    for (std::size_t p = 0; p < parts; ++p) tasks.push_back({i, p, parts});
  }
  std::vector<InputState> states(inputs.size());
  auto hunt_start = std::chrono::steady_clock::now();

  // Workers take tasks in order; the main thread writes results in order.
  std::vector<std::optional<TaskResult>> results(tasks.size());
  std::mutex mutex;
  std::condition_variable ready;
  std::atomic<std::size_t> next{0};
  // Set when the output fails, so workers stop taking tasks.
  std::atomic<bool> stop{false};
  // The progress line would interleave with a table on the same terminal.
  Progress progress("hunting", format == DetectionFormat::Table && stdout_is_terminal ? 0 : total_bytes);
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, std::max<std::size_t>(1, tasks.size()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      Worker worker(engine, format);
      for (std::size_t i = next++; i < tasks.size(); i = next++) {
        TaskResult result;
        if (!stop.load(std::memory_order_relaxed))
          worker.run(inputs[tasks[i].input], tasks[i], states[tasks[i].input], result, input_diagnostics, progress);
        std::lock_guard lock(mutex);
        results[i] = std::move(result);
        ready.notify_all();
      }
    });
  }

  ReadStats totals;
  std::vector<std::uint64_t> detections(engine.rules().size(), 0);
  std::map<std::string, std::uint64_t> skipped;
  std::uint64_t regex_limit_hits = 0, channel_less = 0;
  std::size_t inputs_read = 0, unreadable = 0;
  std::size_t tasks_done = 0;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    TaskResult result;
    {
      std::unique_lock lock(mutex);
      ready.wait(lock, [&] { return results[i].has_value(); });
      result = std::move(*results[i]);
      results[i].reset();
    }
    if (out.failed()) {
      // The output is gone: the remaining tasks were not run.
      stop = true;
      continue;
    }
    ++tasks_done;
    out.write(result.output);
    const Task& task = tasks[i];
    if (task.part + 1 == task.parts) states[task.input].loaded.reset();  // free the input's memory
    if (!result.skip_reason.empty()) {
      ++skipped[result.skip_reason];
      if (result.skip_reason == "unreadable" || result.skip_reason.rfind("named like a log", 0) == 0) ++unreadable;
      spdlog::debug("{}: skipped ({})", inputs[task.input].path, result.skip_reason);
      continue;
    }
    if (task.part == 0 && states[task.input].ok) ++inputs_read;
    totals.add(result.stats);
    regex_limit_hits += result.regex_limit_hits;
    channel_less += result.channel_less;
    for (std::size_t r = 0; r < detections.size(); ++r) detections[r] += result.detections[r];
  }
  for (auto& t : pool) t.join();
  double hunt_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - hunt_start).count();
  progress.finish();
  const bool written = out.close();

  // Closing summary.
  input_diagnostics.sort();
  for (const auto& d : input_diagnostics.items()) log_diagnostic(d);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t total_detections = 0;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_rule;
  for (std::uint32_t r = 0; r < detections.size(); ++r)
    if (detections[r] > 0) {
      total_detections += detections[r];
      by_rule.emplace_back(detections[r], r);
    }
  std::sort(by_rule.begin(), by_rule.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  spdlog::info("read {} events from {} inputs; finished in {:.2f} s", totals.events, inputs_read, seconds);
  if (hunt_seconds > 0.001 && totals.events > 0)
    spdlog::info("matching took {:.3f} s: {:.0f} events/s, {:.1f} MB/s of input", hunt_seconds,
                 static_cast<double>(totals.events) / hunt_seconds,
                 static_cast<double>(total_bytes) / (1 << 20) / hunt_seconds);
  if (totals.repaired > 0) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : totals.repaired_by_reason) parts.push_back(fmt::format("{} {}", reason, n));
    spdlog::info("read around damage (U+FFFD for bad text; records of damaged chunks still read): {}",
                 join(parts, ", "));
  }
  if (totals.rejected > 0) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : totals.rejected_by_reason) parts.push_back(fmt::format("{} {}", reason, n));
    spdlog::info("rejected {} records: {}", totals.rejected, join(parts, ", "));
  }
  if (!skipped.empty()) {
    std::vector<std::string> parts;
    std::size_t n = 0;
    for (const auto& [reason, count] : skipped) {
      parts.push_back(fmt::format("{} {}", reason, count));
      n += count;
    }
    spdlog::info("skipped {} inputs: {} (list them with -v)", n, join(parts, ", "));
  }
  if (channel_less > 0 && !assumed && !options.no_routing)
    spdlog::warn("{} without a Channel field went to every rule, including rules for other products; say what "
                 "they are with --logsource (e.g. product:windows) or a pipeline such as ecs-windows",
                 plural(channel_less, "event", "events"));
  if (!unsupported_reasons.empty()) {
    std::vector<std::string> parts;
    for (const auto& [reason, count] : unsupported_reasons) parts.push_back(fmt::format("{} {}", reason, count));
    spdlog::info("{} not run (listed above): {}", plural(engine.unsupported().size(), "rule", "rules"), join(parts, ", "));
  }
  if (regex_limit_hits > 0)
    spdlog::warn("{} regex evaluations stopped at the backtracking match limit and counted as no match", regex_limit_hits);
  spdlog::info("{} detections by {}", total_detections, plural(by_rule.size(), "rule", "rules"));
  for (const auto& [count, r] : by_rule)
    spdlog::info("  {:>8}  {}  {}", count, escape_control_characters(engine.rules()[r]->rule.id),
                 escape_control_characters(engine.rules()[r]->rule.title));
  if (out.closed_by_reader()) {
    spdlog::info("standard output was closed by its reader; stopped after {} of {} tasks", tasks_done, tasks.size());
    return kHuntOk;
  }
  if (!written) {
    spdlog::error("detections were lost: writing to {} failed ({})", out.name(), out.error());
    return kHuntFailed;
  }
  if (missing_inputs + unreadable > 0 || totals.rejected > 0) {
    std::string what = plural(missing_inputs + unreadable, "input", "inputs");
    if (totals.rejected > 0) what += fmt::format(" and {}", plural(totals.rejected, "record", "records"));
    if (inputs_read == 0 && totals.events == 0) {
      spdlog::error("no input could be read: {} could not be read (see the messages above)", what);
      return kHuntFailed;
    }
    spdlog::error("{} could not be read (see the messages above); everything else was hunted", what);
    return kHuntPartlyUnreadable;
  }
  if (options.fail_on_detections && total_detections > 0) return kHuntDetections;
  return kHuntOk;
}

}  // namespace sigscope
