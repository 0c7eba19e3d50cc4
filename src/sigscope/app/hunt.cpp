#include "sigscope/app/hunt.h"

#include <sys/resource.h>
#include <unistd.h>

#include <malloc.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sigscope/app/rule_corpus.h"
#include "sigscope/common/progress.h"
#include "sigscope/common/spill_buffer.h"
#include "sigscope/common/text.h"
#include "sigscope/input/evtx.h"
#include "sigscope/input/json_reader.h"
#include "sigscope/input/sources.h"
#include "sigscope/input/stream.h"
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

// The skip reason of the last job of a streamed input whose data ended early
// or turned corrupt: the events before that point were read and hunted.
constexpr std::string_view kPartlyRead = "read only in part";

// Chunks per job when a large EVTX file is split across threads (2 MiB).
constexpr std::size_t kChunksPerTask = 32;
// JSON-lines inputs are read as a stream in blocks of whole lines, one job
// per block, so memory stays constant whatever the input size. Blocks are
// small because a block's detections can be larger than the block itself.
constexpr std::size_t kJsonBlockBytes = 1 << 20;
// Longest JSON line read (as JsonEventReader's limit); longer lines are
// skipped and reported.
constexpr std::size_t kMaxJsonLine = kMaxJsonLineBytes;

// An input opened once and shared by its jobs (whole inputs and EVTX files).
struct InputState {
  std::once_flag once;
  bool preloaded = false;  // `loaded` was read by the reader thread
  bool evtx_file = false;  // the EVTX signature was found: EvtxFile::open reads it, with no second sniff
  bool ok = false;
  std::string skip_reason;
  std::optional<LoadedInput> loaded;
  std::optional<EvtxFile> evtx;
};

// One unit of work, done by one worker; results are written in job order.
// A Small job is a whole small file, which its worker plans into the other
// kinds and runs (see InputPlanner).
struct Job {
  enum class Kind { Whole, EvtxPart, EvtxChunks, JsonBlock, Skip, Small };
  Kind kind = Kind::Whole;
  std::size_t input = 0;
  bool first = true;                 // first job of its input
  std::size_t part = 0, parts = 1;   // EvtxPart: chunk range `part` of `parts`
  std::shared_ptr<InputState> state;  // Whole, EvtxPart
  std::shared_ptr<LineBlock> block;   // JsonBlock
  // EvtxChunks: chunks of EVTX data read as a stream (compressed or piped),
  // and on the last job of the input, the chunks its file header lists
  // beyond those the data contains.
  std::shared_ptr<const EvtxFile> evtx_chunks;
  std::size_t missing_chunks = 0;
  std::string skip_reason;            // Skip
  std::uint64_t progress_bytes = 0;   // input bytes this job accounts for
  std::uint64_t replaced_units = 0;   // JsonBlock: unpaired UTF-16 surrogates read as U+FFFD
};

// Results of one job, written in job order.
struct TaskResult {
  std::size_t input = 0;  // index of the job's input
  std::string output;
  ReadStats stats;
  // (runnable rule, detections) for the rules that fired in this job. Most
  // jobs fire few of the thousands of rules, so the writer adds only those.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> detections;
  std::string skip_reason;                // set when the input was not read
  bool first = true;
  bool input_read = false;                // the input was opened and read
  std::uint64_t regex_limit_hits = 0;
  std::uint64_t channel_less = 0;         // events without a Channel field
  // Detections that feed correlation rules, evaluated once every job is written.
  std::vector<CorrelationHit> hits;
  CorrelationStats correlation_stats;
  // A Small job's input planned by the worker: the results of its jobs, in
  // order, written in its place.
  std::vector<TaskResult> parts;
};

std::string shipped_pipeline_names() {
  std::vector<std::string> names;
  for (const auto& p : shipped_pipelines()) names.push_back(std::string(p.name));
  return join(names, ", ");
}

std::string display_name(const InputFile& input) { return input.path == "-" ? "<stdin>" : input.path; }

void warn_no_evtx_records(const std::string& name, DiagnosticList& diagnostics) {
  diagnostics.warning(name, 0, 0, "", "the EVTX file holds no event records",
                      "the log may be empty, or its chunks damaged (see the other messages about this file)");
}

// Adds the counts of parsed EVTX chunks to `stats`, all but the records read.
void add_chunk_stats(const ChunkStats& chunks, ReadStats& stats) {
  for (std::uint64_t k = 0; k < chunks.skipped_records; ++k) stats.reject("corrupt EVTX record");
  for (std::uint64_t k = 0; k < chunks.missing_records; ++k) stats.reject("truncated EVTX record");
  if (chunks.bad_chunks > 0) stats.lose_chunks("corrupt EVTX chunk", chunks.bad_chunks);
  if (chunks.lost_chunks > 0) stats.lose_chunks("EVTX chunk lost when the file shrank", chunks.lost_chunks);
  if (chunks.checksum_errors > 0) stats.repair("EVTX checksum mismatch", chunks.checksum_errors);
  if (chunks.truncated_chunks > 0) stats.repair("truncated EVTX chunk", chunks.truncated_chunks);
  if (chunks.repaired_records > 0) stats.repair("unpaired UTF-16 surrogates", chunks.repaired_records);
}

void open_input(const InputFile& input, InputState& state, DiagnosticList& diagnostics) {
  if (state.evtx_file) {
    state.loaded.emplace();
    state.loaded->format = InputFormat::Evtx;
  } else if (!state.preloaded) {
    state.loaded = load_input(input, diagnostics, state.skip_reason);
  }
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
    if (state.evtx->framed_record_count() == 0) warn_no_evtx_records(display_name(input), diagnostics);
  }
  state.ok = true;
}

// Detection output kept in memory by jobs that wait for an earlier job to be
// written, finished or still running. A log where most events fire a rule
// gives more detection text than input, so past this a worker waits for its
// job's turn and then writes its output as the job runs.
constexpr std::size_t kMaxHeldOutput = 4u << 20;
// A running job reports its output to the queue each time it grows by this.
constexpr std::size_t kOutputStep = 1u << 20;

// Returns the heap bytes of `result`'s detection text, its parts' included.
std::size_t output_bytes(const TaskResult& result) {
  std::size_t bytes = result.output.capacity();
  for (const TaskResult& part : result.parts) bytes += part.output.capacity();
  return bytes;
}

// Reads one job's events and matches them; formats detections into the result.
class Worker {
 public:
  Worker(const Engine& engine, DetectionFormat format, std::size_t memo_budget)
      : engine_(engine), format_(format), matcher_(engine.matcher(memo_budget)) {}

  // Calls `flush(output)` each time a job's output grows by kOutputStep;
  // flush may write the output and clear it.
  void on_large_output(std::function<void(std::string&)> flush) { flush_ = std::move(flush); }
  // Sends each event read to `sink` instead of matching it (for --explain).
  void read_only(EventSink sink) { read_only_sink_ = std::move(sink); }

  void run(const InputFile& input, const Job& job, TaskResult& result, DiagnosticList& diagnostics) {
    if (counts_.size() != engine_.rules().size()) counts_.assign(engine_.rules().size(), 0);
    struct Collect {  // moves this job's counts to the result, also on early returns
      std::vector<std::uint64_t>& counts;
      std::vector<std::uint32_t>& fired;
      TaskResult& result;
      ~Collect() {
        for (std::uint32_t rule : fired) {
          result.detections.emplace_back(rule, counts[rule]);
          counts[rule] = 0;
        }
        fired.clear();
      }
    } collect{counts_, fired_, result};
    result.first = job.first;
    result.input = job.input;
    if (job.kind == Job::Kind::Skip) {
      result.skip_reason = job.skip_reason;
      return;
    }
    const std::string name = display_name(input);
    const bool correlations = !engine_.correlations().empty();
    const auto input_index = static_cast<std::uint32_t>(job.input);
    auto match = [&](const RawEvent& event) {
      matcher_->match(event, detections_);
      if (correlations && !detections_.empty())
        matcher_->correlation_hits(event, detections_, input_index, result.hits, result.correlation_stats);
      for (const auto& d : detections_) {
        if (!engine_.reports(d.rule)) continue;  // it only feeds correlations
        if (counts_[d.rule]++ == 0) fired_.push_back(d.rule);
        format_detection(format_, DetectionContext{engine_, *matcher_, d, name, event}, result.output);
      }
      if (result.output.size() >= next_flush_ && flush_) {
        flush_(result.output);
        next_flush_ = result.output.size() + kOutputStep;
      }
    };
    const EventSink sink = read_only_sink_ ? read_only_sink_ : EventSink(match);
    next_flush_ = kOutputStep;
    std::uint64_t limit_before = matcher_->regex_limit_hits();
    std::uint64_t channel_less_before = matcher_->channel_less_events();
    if (job.kind == Job::Kind::JsonBlock) {
      const LineBlock& block = *job.block;
      result.input_read = true;
      for (const auto& [line, offset] : block.oversized) {
        result.stats.reject("line too long");
        diagnostics.error(name, static_cast<int>(line), 0, "",
                          fmt::format("the line at byte offset {} is longer than the maximum of {} MiB; it was "
                                      "not parsed",
                                      offset, kMaxJsonLine >> 20),
                          "split the record, or check that the input really is JSON lines");
      }
      for (std::size_t k = 0; k < block.nul_runs.size(); ++k) {
        const LineBlock::NulRun& nul = block.nul_runs[k];
        result.stats.repair("runs of NUL bytes");
        // At most 20 messages per block; the summary counts every run.
        if (k < 20)
          diagnostics.warning(name, static_cast<int>(nul.line), 0, "",
                              fmt::format("{} at byte offset {} {} skipped; the records around them were read",
                                          plural(nul.length, "NUL byte", "NUL bytes"), nul.offset,
                                          nul.length == 1 ? "was" : "were"),
                              "the log was probably cut short by a crash or preallocated; check it is complete");
      }
      for (const SkippedValue& skipped : block.skipped_values) {
        result.stats.reject("value too long");
        diagnostics.error(name, static_cast<int>(skipped.line), 0, "",
                          fmt::format("value {} at byte offset {} is {} bytes long, more than the maximum of {} MiB; "
                                      "it was not parsed",
                                      skipped.record, skipped.offset, skipped.bytes, kMaxJsonLine >> 20),
                          "split the value into smaller events, or check that the input really holds events");
      }
      if (job.replaced_units > 0) result.stats.repair("unpaired UTF-16 surrogates", job.replaced_units);
      ReadStats stats = block.holds_values
                            ? json_.read_values(block.text(), block.values, name, sink, diagnostics)
                            : json_.read_lines(block.text(), 0, block.size, block.first_line, name, sink, diagnostics,
                                               block.offset);
      result.stats.add(stats);
    } else if (job.kind == Job::Kind::EvtxChunks) {
      const EvtxFile& file = *job.evtx_chunks;
      result.input_read = true;
      ChunkStats chunks;
      for (std::size_t c = file.first_chunk(); c < file.chunk_count(); ++c)
        chunks += evtx_.parse_chunk(file, c, sink, diagnostics);
      result.stats.events = chunks.records;
      // The decompressed bytes: those of the chunks, and the file header once.
      result.stats.bytes = file.size() - (kEvtxFileHeaderSize + file.first_chunk() * kEvtxChunkSize) +
                           (job.first ? kEvtxFileHeaderSize : 0);
      if (job.missing_chunks > 0) result.stats.lose_chunks("missing EVTX chunk", job.missing_chunks);
      add_chunk_stats(chunks, result.stats);
    } else {
      InputState& state = *job.state;
      std::call_once(state.once, [&] { open_input(input, state, diagnostics); });
      if (!state.ok) {
        if (job.first) result.skip_reason = state.skip_reason;
        return;
      }
      result.input_read = true;
      if (state.loaded->format == InputFormat::Json) {
        result.stats = json_.read(std::string_view(state.loaded->json.data(), state.loaded->json.size()), name, sink,
                                  diagnostics);
      } else {
        const EvtxFile& file = *state.evtx;
        std::size_t per_part = (file.chunk_count() + job.parts - 1) / job.parts;
        std::size_t begin = job.part * per_part;
        std::size_t end = std::min(file.chunk_count(), begin + per_part);
        ChunkStats chunks;
        for (std::size_t c = begin; c < end; ++c) chunks += evtx_.parse_chunk(file, c, sink, diagnostics);
        result.stats.events = chunks.records;
        if (job.first) {
          result.stats.bytes = file.size();
          // Chunks the header lists but a cut file lacks (reported by EvtxFile::open).
          if (file.missing_chunks() > 0) result.stats.lose_chunks("missing EVTX chunk", file.missing_chunks());
        }
        add_chunk_stats(chunks, result.stats);
      }
      if (job.first && state.loaded->replaced_surrogates > 0)
        result.stats.repair("unpaired UTF-16 surrogates", state.loaded->replaced_surrogates);
    }
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
  std::vector<std::uint64_t> counts_;  // per runnable rule: detections in the current job
  std::vector<std::uint32_t> fired_;   // rules with a count above zero
  std::function<void(std::string&)> flush_;
  std::size_t next_flush_ = kOutputStep;  // output size at which flush_ is called next
  EventSink read_only_sink_;
};

// Jobs flow from one reader thread through the workers, and their results
// are written in job order. Two limits bound memory: at most `max_jobs` jobs
// are read but not yet written, and at most `max_data_jobs` of them contain
// input data (a JSON-lines block, or a piped input read whole). EVTX jobs
// read their file when they run, so many may wait while one long job holds
// back the writing.
// There is no writer thread: the worker that finishes the oldest unwritten
// job writes its result and every later one already finished. With thousands
// of small jobs (one per EVTX file), waking a writer thread for each took
// more than 5 % of a two-thread hunt's time, which the workers could not use.
class JobQueue {
 public:
  JobQueue(std::size_t max_jobs, std::size_t max_data_jobs) : max_jobs_(max_jobs), max_data_jobs_(max_data_jobs) {}

  // Reader: adds a job, waiting while too many are in flight.
  void push(Job job) {
    const bool holds_data = job.block != nullptr || job.evtx_chunks != nullptr || (job.state && job.state->preloaded);
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] {
      return pushed_ - written_ < max_jobs_ && (!holds_data || data_jobs_ < max_data_jobs_);
    });
    holds_data_.push_back(holds_data);
    data_jobs_ += holds_data;
    jobs_.push_back({pushed_++, std::move(job)});
    work_.notify_one();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    work_.notify_all();
    done_.notify_all();
  }
  // Worker: takes the next job; false when the reader is done and none is left.
  bool pop(std::size_t& seq, Job& job) {
    std::unique_lock lock(mutex_);
    work_.wait(lock, [&] { return !jobs_.empty() || closed_; });
    if (jobs_.empty()) return false;
    seq = jobs_.front().first;
    job = std::move(jobs_.front().second);
    jobs_.pop_front();
    return true;
  }
  // Worker: reports that job `seq`, still running, has `job_output` bytes of
  // output, of which `reported` were counted before. Returns true when the
  // caller takes the writing role, so it may write that output now and the
  // rest as the job runs. The oldest unwritten job takes the role at once.
  // Another job takes it only when the unwritten jobs hold more than
  // kMaxHeldOutput, and then after waiting for its turn. finish() with
  // `writer` releases the role. The oldest unwritten job waits at most for
  // the thread still writing earlier jobs, so every wait ends.
  bool claim_writer(std::size_t seq, std::size_t job_output, std::size_t& reported) {
    std::unique_lock lock(mutex_);
    held_bytes_ += job_output - reported;
    reported = job_output;
    if (written_ != seq || writing_) {
      if (held_bytes_ <= kMaxHeldOutput) return false;
      turn_.wait(lock, [&] { return written_ == seq && !writing_; });
    }
    writing_ = true;
    held_bytes_ -= reported;  // the caller writes it now
    reported = 0;
    return true;
  }
  // Worker: stores the result of job `seq`. When no other thread is writing,
  // calls write(result), outside the lock, for each finished result that is
  // next in job order. So write() runs on one thread at a time, in job order.
  // When the jobs waiting to be written would hold more than
  // kMaxHeldOutput, waits for this job's turn instead. `reported`: see
  // claim_writer().
  template <typename Write>
  void finish(std::size_t seq, TaskResult result, Write&& write, bool writer = false, std::size_t reported = 0) {
    std::unique_lock lock(mutex_);
    held_bytes_ -= reported;
    const std::size_t bytes = output_bytes(result);
    if (!writer && seq != written_ && held_bytes_ + bytes > kMaxHeldOutput)
      turn_.wait(lock, [&] { return written_ == seq && !writing_; });
    results_.emplace(seq, std::move(result));
    held_bytes_ += bytes;
    if (!writer) {
      if (writing_) return;  // the writing thread finds this result after its current one
      writing_ = true;
    }
    for (auto it = results_.find(written_); it != results_.end(); it = results_.find(written_)) {
      TaskResult next = std::move(it->second);
      results_.erase(it);
      held_bytes_ -= output_bytes(next);
      lock.unlock();
      write(next);
      next = TaskResult();
      lock.lock();
      ++written_;
      const bool held_data = holds_data_.front();
      data_jobs_ -= held_data;
      holds_data_.pop_front();
      // The reader waits only when the window is full, so it is woken once
      // the window is half empty rather than after every job.
      if (held_data || pushed_ - written_ == max_jobs_ / 2) space_.notify_one();
    }
    writing_ = false;
    turn_.notify_all();
    if (closed_ && written_ == pushed_) done_.notify_all();
  }
  // Waits until the reader is done and every job's result is written.
  void wait_written() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return closed_ && written_ == pushed_ && !writing_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable space_, work_, done_;
  std::condition_variable turn_;  // a job's turn to be written may have come
  std::deque<std::pair<std::size_t, Job>> jobs_;
  std::map<std::size_t, TaskResult> results_;
  std::deque<bool> holds_data_;  // per job not yet written, oldest first
  std::size_t pushed_ = 0, written_ = 0, data_jobs_ = 0;
  std::size_t held_bytes_ = 0;  // output of the results in results_ and reported by running jobs
  std::size_t max_jobs_, max_data_jobs_;
  bool closed_ = false;
  bool writing_ = false;  // a worker is writing results
};

// Blocks of finished JSON-lines jobs, reused so steady-state reading does not
// allocate (fresh pages from the kernel cost as much as the parsing).
class BlockPool {
 public:
  std::shared_ptr<LineBlock> get() {
    std::unique_ptr<LineBlock> block;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        block = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!block) block = std::make_unique<LineBlock>();
    return std::shared_ptr<LineBlock>(block.release(), [this](LineBlock* b) { put(b); });
  }

 private:
  void put(LineBlock* block) {
    std::lock_guard lock(mutex_);
    free_.emplace_back(block);
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<LineBlock>> free_;
};

// Turns one input into jobs: an EVTX file into chunk ranges, JSON lines
// into blocks read as a stream, anything else into one job for the input.
// The reader plans large inputs and sends their jobs to the queue. A worker
// plans a small input itself and runs its jobs at once, so the reader does
// not open the thousands of small files of a log folder one after another.
class InputPlanner {
 public:
  using Emit = std::function<void(Job)>;

  InputPlanner() : sniff_(std::make_unique_for_overwrite<char[]>(kSniffBytes)) {}

  // Sends the jobs of input `i` to `emit`, in order. `progress` (when not
  // null) advances by the input bytes each job accounts for.
  void plan(std::size_t i, const InputFile& input, const Emit& emit, BlockPool& pool, Progress* progress,
            const std::atomic<bool>& stop, DiagnosticList& diagnostics) {
    auto advance = [&](std::uint64_t bytes) {
      if (progress) progress->advance(bytes);
    };
    Job job;
    job.input = i;
    if (!input.stream && input.size > kEvtxFileHeaderSize && looks_like_evtx(input.path)) {
      std::size_t parts = 1;
      if (input.size > kEvtxFileHeaderSize + kChunksPerTask * kEvtxChunkSize) {
        std::size_t chunks = (input.size - kEvtxFileHeaderSize + kEvtxChunkSize - 1) / kEvtxChunkSize;
        parts = (chunks + kChunksPerTask - 1) / kChunksPerTask;
      }
      auto state = std::make_shared<InputState>();
      state->evtx_file = true;
      for (std::size_t p = 0; p < parts; ++p) {
        Job part;
        part.kind = Job::Kind::EvtxPart;
        part.input = i;
        part.first = p == 0;
        part.part = p;
        part.parts = parts;
        part.state = state;
        advance(input.size / parts);
        emit(std::move(part));
      }
      return;
    }
    // Reports the input as unreadable and sends its Skip job.
    auto skip_unreadable = [&](const std::string& message, const char* hint) {
      diagnostics.error(display_name(input), 0, 0, "", message, hint);
      job.kind = Job::Kind::Skip;
      job.skip_reason = "unreadable";
      emit(std::move(job));
    };
    std::string error;
    auto stream = ByteStream::open(input, error);
    if (!stream) {
      skip_unreadable(error, "check that the input exists and is readable");
      return;
    }
    // Sniff the decompressed start: only JSON lines are streamed.
    std::string head(sniff_.get(), stream->read_full(sniff_.get(), kSniffBytes));
    std::size_t start = std::string_view(head).substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    while (start < head.size() && (head[start] == ' ' || head[start] == '\t' || head[start] == '\r' || head[start] == '\n'))
      ++start;
    const bool readable = stream->error().empty() && start < head.size();
    if (stream->error().empty() && starts_like_evtx(head) && (input.stream || !stream->compression().empty())) {
      plan_evtx_stream(i, input, *stream, std::move(head), emit, progress, stop, diagnostics);
      return;
    }
    std::uint64_t accounted = 0, replaced = 0;
    // UTF-16 inputs are converted as they are read (see ByteStream).
    auto report_replaced = [&] {
      if (stream->replaced_units() == 0) return;
      diagnostics.warning(display_name(input), 0, 0, "",
                          utf16_repair_message(stream->replaced_units(), stream->first_replaced_offset(),
                                               stream->compression().find('+') != std::string::npos),
                          "fix the encoding at the source if the exact text matters");
    };
    // Sends the blocks of `reader` as jobs, then notes a stream error.
    auto stream_blocks = [&](auto& reader, std::shared_ptr<LineBlock> block, bool any) {
      bool first = true;
      while (any && !stop) {
        Job part;
        part.kind = Job::Kind::JsonBlock;
        part.input = i;
        part.first = first;
        part.block = std::move(block);
        std::uint64_t raw = stream->raw_bytes();
        advance(raw - accounted);
        accounted = raw;
        // Every U+FFFD is text, so it lands in a block read after it was decoded.
        part.replaced_units = stream->replaced_units() - replaced;
        replaced = stream->replaced_units();
        emit(std::move(part));
        first = false;
        block = pool.get();
        any = reader.next(*block);
      }
      report_replaced();
      if (!stream->error().empty()) end_early(i, display_name(input), stream->error(), emit, diagnostics);
    };
    // JSON that is not JSON lines (an array of events, CloudTrail's Records,
    // objects spread over lines) is cut into whole values, also streamed.
    auto stream_values = [&](std::string prefix) {
      JsonValueBlockReader reader(*stream, std::move(prefix), kJsonBlockBytes, kMaxJsonLine);
      auto block = pool.get();
      reader.next(*block);
      // An input without values ("[]") still gets its job, so it counts as read.
      stream_blocks(reader, std::move(block), true);
    };
    // The second token must fit too: an object starts with a key or ends,
    // an array of events starts with an object or ends. Text logs that start
    // with a bracket ("[2024-05-01 ...") are left to the whole-input path,
    // which reports them once.
    auto second_token = [&](std::size_t at) {
      std::size_t k = at + 1;
      while (k < head.size() && (head[k] == ' ' || head[k] == '\t' || head[k] == '\r' || head[k] == '\n')) ++k;
      return k < head.size() ? head[k] : '\0';
    };
    const char second = readable ? second_token(start) : '\0';
    if (readable && head[start] == '{') {
      LineBlockReader reader(*stream, std::move(head), kJsonBlockBytes, kMaxJsonLine);
      auto block = pool.get();
      bool any = reader.next(*block);
      if (any && sniffer_.is_json_lines(block->text())) {
        stream_blocks(reader, std::move(block), any);
        return;
      }
      if (second != '"' && second != '}') {
        // Not JSON: the whole-input path reports it.
        if (!input.stream) {
          job.state = std::make_shared<InputState>();
          advance(input.size);
          emit(std::move(job));
          return;
        }
        std::string content(block->text());
        reader.read_rest(content);
        head = std::move(content);
      } else if (!input.stream) {
        // Start again from the first byte: the line reader may have skipped
        // an overlong first line.
        block.reset();
        stream = ByteStream::open(input, error);
        if (!stream) {
          skip_unreadable(error, "check that the input exists and is readable");
          return;
        }
        stream_values(std::string());
        return;
      } else if (block->oversized.empty()) {
        std::string prefix(block->text());
        prefix += reader.take_carry();
        block.reset();
        stream_values(std::move(prefix));
        return;
      } else {
        // A pipe whose first line is too long to judge, and is not JSON
        // lines: its start is gone.
        skip_unreadable(fmt::format("the first line is longer than {} MiB and the input is not JSON lines; it "
                                    "cannot be read from a pipe",
                                    kMaxJsonLine >> 20),
                        "save the input to a file and pass the file");
        return;
      }
    } else if (readable && head[start] == '[' && (second == '{' || second == ']')) {
      stream_values(std::move(head));
      return;
    } else if (!input.stream) {
      job.state = std::make_shared<InputState>();
      advance(input.size);
      emit(std::move(job));
      return;
    } else {
      char buffer[1 << 16];
      while (std::size_t got = stream->read(buffer, sizeof buffer)) head.append(buffer, got);
    }
    // Standard input or a pipe that is not JSON lines: parse it whole.
    auto state = std::make_shared<InputState>();
    state->preloaded = true;
    if (!stream->error().empty()) {
      diagnostics.error(display_name(input), 0, 0, "", stream->error(), "recompress or decompress the input and try again");
      state->skip_reason = "unreadable";
    } else {
      state->loaded = load_from_bytes(input, std::move(head), stream->compression(), diagnostics, state->skip_reason);
      if (state->loaded) state->loaded->replaced_surrogates += stream->replaced_units();
      report_replaced();
    }
    job.state = std::move(state);
    emit(std::move(job));
  }

 private:
  // Reports a stream that failed part way (`error`) and sends the job that
  // counts input `i` as read only in part.
  static void end_early(std::size_t i, const std::string& name, const std::string& error, const Emit& emit,
                        DiagnosticList& diagnostics) {
    diagnostics.error(name, 0, 0, "", fmt::format("input ends early: {}", error),
                      "the events before this point were read; recompress or copy the input again");
    Job tail;
    tail.kind = Job::Kind::Skip;
    tail.input = i;
    tail.first = false;
    tail.skip_reason = kPartlyRead;
    emit(std::move(tail));
  }

  // Sends the jobs of EVTX data that is compressed or comes from a pipe, read
  // from `stream` after its first bytes `head`. Each job has kChunksPerTask
  // chunks, so memory contains only the chunks of the jobs in flight, not the
  // whole decompressed file. Records keep their numbers in the whole file.
  void plan_evtx_stream(std::size_t i, const InputFile& input, ByteStream& stream, std::string head, const Emit& emit,
                        Progress* progress, const std::atomic<bool>& stop, DiagnosticList& diagnostics) {
    const std::string name = display_name(input);
    std::size_t head_used = 0;
    // Reads up to `size` bytes of the data: the rest of `head`, then the stream.
    auto read = [&](char* out, std::size_t size) {
      const std::size_t from_head = std::min(size, head.size() - head_used);
      std::memcpy(out, head.data() + head_used, from_head);
      head_used += from_head;
      return from_head + (from_head < size ? stream.read_full(out + from_head, size - from_head) : 0);
    };
    std::uint64_t accounted = 0;
    auto advance = [&] {
      if (progress) progress->advance(stream.raw_bytes() - accounted);
      accounted = stream.raw_bytes();
    };
    auto as_bytes = [](const std::string& text) {
      return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    };

    std::string header(kEvtxFileHeaderSize, '\0');
    header.resize(read(header.data(), header.size()));
    // The next chunk to send: a whole chunk, a last one cut short, or empty
    // at the end of the data.
    std::string pending(kEvtxChunkSize, '\0');
    pending.resize(header.size() == kEvtxFileHeaderSize ? read(pending.data(), pending.size()) : 0);
    std::optional<EvtxHeader> info;
    if (header.size() == kEvtxFileHeaderSize) {
      info = check_evtx_header(name, as_bytes(header), as_bytes(pending), diagnostics);
    } else if (!stream.error().empty()) {
      diagnostics.error(name, 0, 0, "", stream.error(), "recompress or decompress the input and try again");
    } else {
      diagnostics.error(name, 0, 0, "",
                        fmt::format("data is too small to be EVTX ({} bytes, the file header alone is {} bytes)",
                                    header.size(), kEvtxFileHeaderSize));
    }
    if (!info) {
      Job skip;
      skip.kind = Job::Kind::Skip;
      skip.input = i;
      skip.skip_reason = "unreadable";
      advance();
      emit(std::move(skip));
      return;
    }

    std::size_t next_chunk = 0;
    std::uint64_t records = 0;
    bool first = true;
    // One job even for data without chunks, so the input counts as read.
    do {
      std::string segment;
      segment.reserve(kChunksPerTask * kEvtxChunkSize);
      while (!pending.empty() && segment.size() < kChunksPerTask * kEvtxChunkSize) {
        segment += pending;
        if (pending.size() < kEvtxChunkSize) {
          pending.clear();  // a chunk cut short ends the data
          break;
        }
        pending.resize(read(pending.data(), kEvtxChunkSize));
      }
      const std::size_t held = (segment.size() + kEvtxChunkSize - 1) / kEvtxChunkSize;
      auto chunks = std::make_shared<const EvtxFile>(
          EvtxFile::from_chunks(name, next_chunk, records, std::make_shared<const std::string>(std::move(segment))));
      next_chunk += held;
      records = chunks->framed_record_count();
      Job part;
      part.kind = Job::Kind::EvtxChunks;
      part.input = i;
      part.first = first;
      part.evtx_chunks = std::move(chunks);
      if (pending.empty() && stream.error().empty()) {
        // The whole data is read: the header's chunk count can be checked.
        part.missing_chunks = report_missing_evtx_chunks(name, info->listed_chunks, next_chunk, diagnostics);
        if (records == 0) warn_no_evtx_records(name, diagnostics);
      }
      advance();
      emit(std::move(part));
      first = false;
    } while (!pending.empty() && !stop);

    if (!stream.error().empty()) end_early(i, name, stream.error(), emit, diagnostics);
  }

  // The start of each input is read here, then copied for as many bytes as
  // it has: most inputs are small, and zeroing 64 KiB for each cost more.
  static constexpr std::size_t kSniffBytes = 64 << 10;
  std::unique_ptr<char[]> sniff_;
  JsonEventReader sniffer_;
};

// Regular files up to this size are planned by the worker that takes their
// job (see InputPlanner). An EVTX file of this size is one job anyway.
constexpr std::uint64_t kSmallInputBytes = kEvtxFileHeaderSize + kChunksPerTask * kEvtxChunkSize;

// Reader thread: sends a Small job for each small regular file and plans
// the other inputs.
void produce_jobs(const std::vector<InputFile>& inputs, JobQueue& queue, BlockPool& pool, Progress& progress,
                  const std::atomic<bool>& stop, DiagnosticList& diagnostics) {
  InputPlanner planner;
  const InputPlanner::Emit emit = [&](Job job) { queue.push(std::move(job)); };
  for (std::size_t i = 0; i < inputs.size() && !stop; ++i) {
    const InputFile& input = inputs[i];
    if (!input.stream && input.size <= kSmallInputBytes) {
      Job job;
      job.kind = Job::Kind::Small;
      job.input = i;
      progress.advance(input.size);
      queue.push(std::move(job));
      continue;
    }
    planner.plan(i, input, emit, pool, &progress, stop, diagnostics);
  }
  queue.close();
}

// A rule that the hunt leaves out before building the engine, and why.
struct LeftOutRule {
  std::string id;
  std::string name;
  std::string reason;
};

int explain(const Engine& engine, const HuntOptions& options, const std::vector<LeftOutRule>& left_out,
            DiagnosticList& diagnostics) {
  // A rule is named by its id or, as correlations name it, by its `name`.
  auto named = [&](const Rule& r) {
    return r.id == options.explain_rule || (!r.name.empty() && r.name == options.explain_rule);
  };
  std::uint32_t rule = 0;
  bool found = false;
  for (std::uint32_t i = 0; i < engine.rules().size(); ++i)
    if (named(engine.rules()[i]->rule)) {
      rule = i;
      found = true;
    }
  if (!found) {
    for (const auto& plan : engine.correlations().plans)
      if (named(plan.rule->rule)) {
        std::vector<std::string> refs;
        for (const auto& ref : plan.refs)
          refs.push_back(ref.correlation ? fmt::format("{} (a correlation)", engine.correlations().plans[ref.index].rule->rule.id)
                                         : engine.rules()[ref.index]->rule.id);
        spdlog::error("rule {} is a correlation rule, and --explain shows one event against one rule; explain an "
                      "event against the rules it references instead: {}",
                      options.explain_rule, join(refs, ", "));
        return 2;
      }
    for (const auto& u : engine.unsupported())
      if (u.id == options.explain_rule || (!u.name.empty() && u.name == options.explain_rule)) {
        spdlog::error("rule {} is not run: {}", u.id == options.explain_rule ? u.id : fmt::format("{} ({})", u.name, u.id),
                      u.reason);
        return 1;
      }
    for (const LeftOutRule& r : left_out)
      if (r.id == options.explain_rule || (!r.name.empty() && r.name == options.explain_rule)) {
        spdlog::error("rule {} is not run: {}", options.explain_rule, r.reason);
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
  // The input is read as the hunt reads it (streamed, in the same jobs), so
  // record numbers agree and a large or damaged input still gets there.
  auto matcher = engine.matcher();
  std::atomic<bool> done{false};
  Worker reader(engine, DetectionFormat::Jsonl, Prefilter::kDefaultMemoBudget);
  reader.read_only([&](const RawEvent& event) {
    if (done || event.record != options.explain_record) return;
    done = true;
    std::string text = matcher->explain(rule, event);
    std::fwrite(text.data(), 1, text.size(), stdout);
  });
  std::string skip;
  InputPlanner planner;
  BlockPool pool;
  const InputPlanner::Emit run = [&](Job job) {
    if (done) return;
    TaskResult result;
    reader.run(inputs[0], job, result, diagnostics);
    if (skip.empty()) skip = result.skip_reason;
  };
  planner.plan(0, inputs[0], run, pool, nullptr, done, diagnostics);
  diagnostics.sort();
  for (const auto& d : diagnostics.items())
    spdlog::get("diagnostics")->log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn, d.format());
  if (!done) {
    if (!skip.empty())
      spdlog::error("{}: cannot read the input ({}); see the messages above", inputs[0].path, skip);
    else
      spdlog::error("{}: there is no record {}; records are numbered from 1 (the line for JSON lines, the position "
                    "for EVTX files and JSON arrays), as in the hunt's detections",
                    inputs[0].path, options.explain_record);
    return 2;
  }
  return 0;
}

}  // namespace

namespace {

void log_diagnostic(const Diagnostic& d) {
  spdlog::get("diagnostics")->log(d.severity == Severity::Error ? spdlog::level::err : spdlog::level::warn, d.format());
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

  // An -o path that cannot be written is reported before the rules load,
  // which takes a second for a large corpus. The file itself is not opened
  // yet, so a run that stops early leaves an earlier result as it was.
  if (!options.output.empty() && options.output != "-" && options.explain_rule.empty()) {
    const std::filesystem::path out_path(options.output);
    const std::filesystem::path folder = out_path.has_parent_path() ? out_path.parent_path() : ".";
    std::error_code ec;
    const char* problem = nullptr;
    if (!std::filesystem::is_directory(folder, ec)) problem = "its folder does not exist";
    else if (std::filesystem::is_directory(out_path, ec)) problem = "it is a folder";
    else if (std::filesystem::exists(out_path, ec) ? access(out_path.c_str(), W_OK) != 0
                                                  : access(folder.c_str(), W_OK) != 0)
      problem = "permission denied";
    if (problem) {
      spdlog::error("cannot write detections to {}: {}; give -o a writable path", options.output, problem);
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
  // Rules that correlations reference run whatever their level, because a
  // correlation's rules often have none. Below --min-level they only feed
  // the correlations. Correlations below it are left out when written.
  std::set<std::string> referenced, feed_only;
  for (const CompiledRule& r : load.rules)
    if (r.rule.kind == RuleKind::Correlation) referenced.insert(r.rule.correlation.rules.begin(), r.rule.correlation.rules.end());
  std::vector<LeftOutRule> left_out;  // for --explain's message
  std::erase_if(load.rules, [&](const CompiledRule& r) {
    if (r.rule.kind == RuleKind::Filter) return false;
    if (!options.all_statuses && has_inactive_status(r.rule)) {
      ++excluded_status;
      if (!options.explain_rule.empty())
        left_out.push_back({r.rule.id, r.rule.name,
                            fmt::format("its status is {} (--all-statuses runs it)", r.rule.status)});
      return true;
    }
    if (r.rule.kind == RuleKind::Correlation) return false;  // --min-level applies when they are written
    if (min_rank > 0 && level_rank(r.rule.level) < min_rank) {
      const bool by_id = !r.rule.id.empty() && referenced.count(r.rule.id);
      const bool by_name = !r.rule.name.empty() && referenced.count(r.rule.name);
      if (by_id || by_name) {
        feed_only.insert(by_id ? r.rule.id : r.rule.name);
        return false;
      }
      ++below_level;
      if (!options.explain_rule.empty())
        left_out.push_back({r.rule.id, r.rule.name,
                            fmt::format("its level ({}) is below --min-level {}",
                                        r.rule.level.empty() ? "none" : r.rule.level, options.min_level)});
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
  // Fields the pipelines rename Channel to, which mark Windows events too.
  std::vector<std::string> channel_fields, event_id_fields, provider_fields;
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
    channel_fields = pipeline_channel_fields(*pipelines);
    event_id_fields = pipeline_renamed_fields(*pipelines, "EventID");
    provider_fields = pipeline_renamed_fields(*pipelines, "Provider_Name");
  }

  EngineOptions engine_options;
  engine_options.assumed_logsource = assumed;
  engine_options.logsource_routing = !options.no_routing;
  engine_options.keep_rule_sources = false;  // nothing below reads them
  engine_options.feed_only = std::move(feed_only);
  engine_options.channel_fields = channel_fields;
  engine_options.event_id_fields = event_id_fields;
  engine_options.provider_fields = provider_fields;
  DiagnosticList engine_diagnostics;
  // Loading and compiling run on several threads, and glibc keeps what each
  // thread's heap freed. Handing it back before and after building the
  // engine lowers the peak memory by about 10 MiB (15 on a cold start, when
  // Hyperscan compiles), for about 10 ms.
  malloc_trim(0);
  Engine engine(std::move(load.rules), engine_options, engine_diagnostics);
  malloc_trim(0);
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
    spdlog::info("{} that cannot run {} not listed (raise --max-warnings)",
                 plural(unsupported_shown - options.max_warnings, "more rule", "more rules"),
                 unsupported_shown - options.max_warnings == 1 ? "is" : "are");
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
    return explain(engine, options, left_out, diagnostics);
  }

  // Inputs.
  DiagnosticList input_diagnostics;
  std::vector<SkippedEntry> skipped_entries;
  std::vector<InputFile> inputs = find_inputs(options.inputs, input_diagnostics, &skipped_entries);
  const std::size_t missing_inputs = input_diagnostics.error_count();
  std::uint64_t total_bytes = 0;
  for (const auto& i : inputs) total_bytes += i.size;
  if (inputs.empty() && skipped_entries.empty()) {
    // Nothing to read: stop before -o truncates the results of an earlier run.
    input_diagnostics.sort();
    for (const auto& d : input_diagnostics.items()) log_diagnostic(d);
    const std::string kept = options.output.empty() || options.output == "-"
                                 ? std::string()
                                 : fmt::format("; {} was left as it was", options.output);
    if (missing_inputs > 0)
      spdlog::error("no input could be read (see the messages above){}", kept);
    else
      spdlog::error("no file was found to hunt: {} {} empty{}", join(options.inputs, ", "),
                    options.inputs.size() == 1 ? "is" : "are", kept);
    return kHuntFailed;
  }

  OutputSink out(options.output);
  if (!out.open()) return 2;
  if (format == DetectionFormat::Csv) out.write(csv_header());
  if (format == DetectionFormat::Table) out.write(table_header());

  auto hunt_start = std::chrono::steady_clock::now();
  // The progress line would interleave with a table on the same terminal.
  Progress progress("hunting", format == DetectionFormat::Table && stdout_is_terminal ? 0 : total_bytes);
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  // Enough jobs in flight to keep every worker busy while the oldest is
  // still running. An EVTX job is at most kChunksPerTask chunks, so 32
  // one-chunk files per worker can pass a long job. Each JSON block is
  // kJsonBlockBytes, so one block per worker and two more keep the workers
  // fed (two per worker gave the same speed and 12 MB more at 8 threads).
  const auto workers = static_cast<std::size_t>(threads);
  // The workers' scan memos share about 6 MiB (2 MiB each up to three
  // workers), so peak memory grows less with the number of cores.
  const std::size_t memo_budget = std::clamp<std::size_t>((6u << 20) / workers, 512u << 10, 2u << 20);
  // NOTE: peak memory still grows by 2 to 7 MB per worker: its scan memo and
  // Hyperscan scratch, the EVTX file or JSON block it reads, and its formatted
  // detections (see kMaxHeldOutput). With 8 workers the EVTX corpus peaks at
  // about 140 MB.
  JobQueue queue(32 * workers + 8, workers + 2);
  BlockPool blocks;
  // Set when the output fails (or its reader closes it), so the reader and
  // the workers stop.
  std::atomic<bool> stop{false};
  // Totals of the written results, updated by write_one() only (and the
  // skipped folder entries before the threads start).
  ReadStats totals;
  std::vector<std::uint64_t> detections(engine.rules().size(), 0);
  std::map<std::string, std::uint64_t> skipped;
  for (const SkippedEntry& entry : skipped_entries) {
    ++skipped[entry.reason];
    spdlog::debug("skipped {}: {}", escape_control_characters(entry.path), entry.reason);
  }
  std::uint64_t regex_limit_hits = 0, channel_less = 0;
  std::size_t inputs_read = 0, unreadable = 0, partly_read = 0;
  std::size_t jobs_done = 0;
  CorrelationHits hits(options.correlation_memory_mib << 20);  // in job order
  CorrelationStats correlation_stats;
  auto write_one = [&](TaskResult& result) {
    if (out.failed()) {
      // The output is gone: the remaining jobs are drained, not run.
      stop = true;
      return;
    }
    ++jobs_done;
    out.write(result.output);
    if (result.skip_reason == kPartlyRead) {
      // The events before the damage were read and hunted, so the input is
      // not skipped.
      ++partly_read;
      spdlog::debug("read only in part: {}", escape_control_characters(display_name(inputs[result.input])));
      return;
    }
    if (!result.skip_reason.empty()) {
      ++skipped[result.skip_reason];
      spdlog::debug("skipped {}: {}", escape_control_characters(display_name(inputs[result.input])), result.skip_reason);
      if (result.skip_reason == "unreadable" || result.skip_reason.rfind("named like a log", 0) == 0) ++unreadable;
      return;
    }
    if (result.first && result.input_read) ++inputs_read;
    totals.add(result.stats);
    regex_limit_hits += result.regex_limit_hits;
    channel_less += result.channel_less;
    for (const auto& [rule, count] : result.detections) detections[rule] += count;
    for (const CorrelationHit& hit : result.hits) hits.add(hit);
    std::vector<CorrelationHit>().swap(result.hits);
    correlation_stats.detections += result.correlation_stats.detections;
    if (correlation_stats.without_time == 0 && result.correlation_stats.without_time > 0) {
      correlation_stats.untimed_input = result.correlation_stats.untimed_input;
      correlation_stats.untimed_record = result.correlation_stats.untimed_record;
    }
    correlation_stats.without_time += result.correlation_stats.without_time;
    correlation_stats.without_group += result.correlation_stats.without_group;
  };
  // Called by JobQueue::finish() on one worker at a time, in job order.
  auto write_result = [&](TaskResult& result) {
    if (result.parts.empty()) {
      write_one(result);
      return;
    }
    for (TaskResult& part : result.parts) write_one(part);
  };

  std::thread reader([&] { produce_jobs(inputs, queue, blocks, progress, stop, input_diagnostics); });
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      Worker worker(engine, format, memo_budget);
      InputPlanner planner;
      std::size_t seq = 0;
      Job job;
      TaskResult result;
      // A job whose output grows large writes it as it runs, once the jobs
      // before it are written, so memory does not grow with its detections.
      bool writer = false;
      std::size_t reported = 0;       // output of the running job counted in the queue
      std::size_t flushed_parts = 0;  // parts of a Small job already written whole
      auto write_output = [&](std::string& output) {
        if (out.failed()) {
          stop = true;  // the output is gone, so is this text
        } else {
          out.write(output);
        }
        std::string().swap(output);
      };
      worker.on_large_output([&](std::string& output) {
        if (!writer) {
          writer = queue.claim_writer(seq, output_bytes(result), reported);
          if (!writer) return;
        }
        // The earlier parts of a Small job come first. They are complete, so
        // their buffers are freed: a small compressed file can hold a hundred
        // parts, each with a buffer of a MiB or more.
        for (; flushed_parts + 1 < result.parts.size(); ++flushed_parts) {
          write_output(result.parts[flushed_parts].output);
          std::string().swap(result.parts[flushed_parts].output);
        }
        write_output(output);
      });
      while (queue.pop(seq, job)) {
        result = TaskResult();
        writer = false;
        reported = 0;
        flushed_parts = 0;
        result.input = job.input;
        if (stop.load(std::memory_order_relaxed)) {
          // The output failed: drain the job without running it.
        } else if (job.kind == Job::Kind::Small) {
          // Plan the input here and run its jobs at once, in order.
          const InputPlanner::Emit run_now = [&](Job part) {
            TaskResult& part_result = result.parts.emplace_back();
            if (!stop.load(std::memory_order_relaxed)) worker.run(inputs[part.input], part, part_result, input_diagnostics);
          };
          planner.plan(job.input, inputs[job.input], run_now, blocks, nullptr, stop, input_diagnostics);
        } else {
          worker.run(inputs[job.input], job, result, input_diagnostics);
        }
        job = Job();  // return the block to the pool before the result is written
        queue.finish(seq, std::move(result), write_result, writer, reported);
      }
    });
  }
  queue.wait_written();
  reader.join();
  for (auto& t : pool) t.join();
  // Correlations see every input's events, so they run once all are read.
  // Their detections come after those of single events.
  std::vector<std::uint64_t> correlation_fires(engine.correlations().plans.size(), 0);
  std::string fire_lines_error;
  std::uint64_t unwritten_fires = 0;  // correlation detections whose line could not be read back
  if (!engine.correlations().empty() && !stop) {
    std::vector<std::string> names;
    for (const InputFile& input : inputs) names.push_back(display_name(input));
    // Each reported fire is formatted at once and its line kept in `lines`,
    // which moves to a temporary file past 8 MiB. Only a small index entry
    // per fire stays in memory to put the lines in order.
    struct FireLine {
      std::int64_t last_us;
      std::uint32_t correlation;
      FireOrder order;
      std::uint64_t offset;
      std::uint32_t length;
    };
    std::vector<FireLine> index;
    SpillBuffer lines(8u << 20, hits.spill_dir());
    std::string text;
    evaluate_correlations(engine.correlations(), hits, correlation_stats, [&](CorrelationFire&& fire) {
      const Rule& rule = engine.correlations().plans[fire.correlation].rule->rule;
      if (!engine.correlations().plan_reported[fire.correlation]) return;  // it only feeds other correlations
      if (min_rank > 0 && level_rank(rule.level) < min_rank) return;
      ++correlation_fires[fire.correlation];
      text.clear();
      format_correlation(format, engine, fire, names, text);
      index.push_back({fire.last_us, fire.correlation, fire.order, lines.size(), static_cast<std::uint32_t>(text.size())});
      lines.append(text);
    });
    // By time of the last event, then plan by plan as evaluated, then in
    // each plan's own order.
    std::sort(index.begin(), index.end(), [](const FireLine& a, const FireLine& b) {
      return std::tie(a.last_us, a.correlation, a.order) < std::tie(b.last_us, b.correlation, b.order);
    });
    text.clear();
    for (const FireLine& line : index) {
      if (!lines.read(line.offset, line.length, text)) ++unwritten_fires;
      if (text.size() >= kOutputStep) {
        out.write(text);
        text.clear();
      }
    }
    out.write(text);
    fire_lines_error = lines.error();
  }
  double hunt_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - hunt_start).count();
  progress.finish();
  const bool written = out.close();

  // Closing summary. Each input's messages are capped as one: the readers
  // cap them per block of a JSON input, and an input has many blocks.
  input_diagnostics.sort();
  constexpr std::size_t kMaxMessagesPerInput = 20;
  std::map<std::string, std::size_t> messages_per_input, hidden_per_input;
  for (const auto& d : input_diagnostics.items()) {
    if (messages_per_input[d.file]++ < kMaxMessagesPerInput) log_diagnostic(d);
    else ++hidden_per_input[d.file];
  }
  for (const auto& [file, hidden] : hidden_per_input)
    spdlog::get("diagnostics")
        ->warn("{}: warning: {} more {} about this input not shown; the summary below counts every record",
               escape_control_characters(file), hidden, hidden == 1 ? "message" : "messages");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t total_detections = 0;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_rule;
  for (std::uint32_t r = 0; r < detections.size(); ++r)
    if (detections[r] > 0) {
      total_detections += detections[r];
      by_rule.emplace_back(detections[r], r);
    }
  std::sort(by_rule.begin(), by_rule.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  spdlog::info("read {} from {}; finished in {:.2f} s, peak memory {} MiB", plural(totals.events, "event", "events"),
               plural(inputs_read, "input", "inputs"), seconds, usage.ru_maxrss / 1024);
  // Pipes and stdin have no size on disk, so their rate is not known.
  // A run stopped early (its output closed or failed) read only part of the
  // inputs, so their total size would give a false rate.
  if (hunt_seconds > 0.001 && totals.events > 0 && total_bytes > 0 && !stop)
    spdlog::info("matching took {:.3f} s: {:.0f} events/s, {:.1f} MB/s of input", hunt_seconds,
                 static_cast<double>(totals.events) / hunt_seconds,
                 static_cast<double>(total_bytes) / (1 << 20) / hunt_seconds);
  else if (hunt_seconds > 0.001 && totals.events > 0)
    spdlog::info("matching took {:.3f} s: {:.0f} events/s", hunt_seconds,
                 static_cast<double>(totals.events) / hunt_seconds);
  if (totals.repaired > 0) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : totals.repaired_by_reason) parts.push_back(fmt::format("{}: {}", reason, n));
    spdlog::info("read around damage (U+FFFD for bad text; records of damaged chunks still read): {}",
                 join(parts, ", "));
  }
  if (totals.rejected > 0) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : totals.rejected_by_reason) parts.push_back(fmt::format("{}: {}", reason, n));
    spdlog::info("rejected {} ({})", plural(totals.rejected, "record", "records"), join(parts, ", "));
  }
  if (totals.lost_chunks > 0) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : totals.lost_chunks_by_reason) parts.push_back(fmt::format("{}: {}", reason, n));
    spdlog::info("lost the records of {} ({})", plural(totals.lost_chunks, "EVTX chunk", "EVTX chunks"),
                 join(parts, ", "));
  }
  if (!skipped.empty()) {
    std::vector<std::string> parts;
    std::size_t n = 0;
    for (const auto& [reason, count] : skipped) {
      parts.push_back(fmt::format("{}: {}", reason, count));
      n += count;
    }
    spdlog::info("skipped {} ({}); -v lists them", plural(n, "input", "inputs"), join(parts, ", "));
  }
  if (partly_read > 0)
    spdlog::info("read {} only up to where {} data ends early or is corrupt (see the messages above); -v lists {}",
                 plural(partly_read, "input", "inputs"), partly_read == 1 ? "its" : "their",
                 partly_read == 1 ? "it" : "them");
  if (channel_less > 0 && !assumed && !options.no_routing) {
    std::string fields = "a Channel field";
    if (!channel_fields.empty()) fields = fmt::format("a Channel or {} field", fmt::join(channel_fields, " or "));
    const char* pipeline_hint = options.pipelines.empty() ? " or a pipeline such as ecs-windows" : "";
    spdlog::warn("{} without {} went to every rule, including rules for other products; say what "
                 "they are with --logsource (e.g. product:windows){}",
                 plural(channel_less, "event", "events"), fields, pipeline_hint);
  }
  if (!unsupported_reasons.empty()) {
    std::vector<std::string> parts;
    for (const auto& [reason, count] : unsupported_reasons) parts.push_back(fmt::format("{} {}", reason, count));
    spdlog::info("{} not run (listed above): {}", plural(engine.unsupported().size(), "rule", "rules"), join(parts, ", "));
  }
  if (regex_limit_hits > 0)
    spdlog::warn("{} stopped at the backtracking match limit and counted as no match",
                 plural(regex_limit_hits, "regex evaluation", "regex evaluations"));
  spdlog::info("{} by {}", plural(total_detections, "detection", "detections"), plural(by_rule.size(), "rule", "rules"));
  for (const auto& [count, r] : by_rule)
    spdlog::info("  {:>8}  {}  {}", count, escape_control_characters(engine.rules()[r]->rule.id),
                 escape_control_characters(engine.rules()[r]->rule.title));
  std::uint64_t total_correlations = 0;
  if (!engine.correlations().empty()) {
    std::size_t silent = 0;
    for (std::uint32_t r = 0; r < engine.rules().size(); ++r) silent += !engine.reports(r);
    for (bool reported : engine.correlations().plan_reported) silent += !reported;
    std::size_t fired = 0;
    for (std::uint64_t n : correlation_fires) {
      total_correlations += n;
      fired += n > 0;
    }
    spdlog::info("{} by {} of {}, from {} of the rules they reference{}",
                 plural(total_correlations, "correlation detection", "correlation detections"), fired,
                 plural(engine.correlations().plans.size(), "correlation rule", "correlation rules"),
                 plural(correlation_stats.detections, "detection", "detections"),
                 silent > 0 ? fmt::format(" ({} only {} correlations, so {} own detections are not written)",
                                          plural(silent, "rule", "rules"), silent == 1 ? "feeds" : "feed",
                                          silent == 1 ? "its" : "their")
                            : std::string());
    for (std::uint32_t p = 0; p < correlation_fires.size(); ++p)
      if (correlation_fires[p] > 0)
        spdlog::info("  {:>8}  {}  {}", correlation_fires[p],
                     escape_control_characters(engine.correlations().plans[p].rule->rule.id),
                     escape_control_characters(engine.correlations().plans[p].rule->rule.title));
    if (hits.spilled())
      spdlog::info("the {} took more than {} MiB, so they went to temporary files in {} ({:.1f} MiB); "
                   "--correlation-memory sets the limit",
                   plural(hits.size(), "correlation hit", "correlation hits"), options.correlation_memory_mib,
                   escape_control_characters(hits.spill_dir()), static_cast<double>(hits.spilled_bytes()) / (1 << 20));
    const std::uint64_t lost_hits = hits.lost() + correlation_stats.unread;
    if (lost_hits > 0)
      spdlog::error("{} that feed correlations could not be read back from their temporary files ({}), so "
                    "correlations may have missed events",
                    plural(lost_hits, "detection", "detections"), escape_control_characters(hits.spill_error()));
    else if (!hits.spill_error().empty())
      spdlog::warn("detections that feed correlations stayed in memory beyond --correlation-memory: {}",
                   escape_control_characters(hits.spill_error()));
    if (unwritten_fires > 0)
      spdlog::error("{} could not be read back from a temporary file and were not written: {}",
                    plural(unwritten_fires, "correlation detection", "correlation detections"),
                    escape_control_characters(fire_lines_error));
    else if (!fire_lines_error.empty())
      spdlog::warn("correlation detections stayed in memory until they were written: {}",
                   escape_control_characters(fire_lines_error));
    if (correlation_stats.without_time > 0)
      spdlog::warn("{} with detections that feed correlations had no readable time (the first: {} record {}), so "
                   "no correlation counted them; give each event a time in ISO 8601 or epoch form (EVTX events have "
                   "one; JSON events need a key such as @timestamp, timestamp, TimeCreated or UtcTime)",
                   plural(correlation_stats.without_time, "event", "events"),
                   escape_control_characters(display_name(inputs[correlation_stats.untimed_input])),
                   correlation_stats.untimed_record);
    if (correlation_stats.without_group > 0)
      spdlog::info("{} a detection lacked a group-by field of a correlation it feeds, so that correlation did not "
                   "count it",
                   correlation_stats.without_group == 1 ? std::string("once,")
                                                        : fmt::format("{} times,", correlation_stats.without_group));
    if (correlation_stats.without_value > 0)
      spdlog::info("{} a detection had no decimal number in the field of a value_sum, value_avg or similar "
                   "correlation it feeds, so it added no value",
                   correlation_stats.without_value == 1 ? std::string("once,")
                                                        : fmt::format("{} times,", correlation_stats.without_value));
  }
  if (out.closed_by_reader()) {
    spdlog::info("standard output was closed by its reader, so the hunt stopped early; the counts above cover the "
                 "{} written in full before that",
                 plural(jobs_done, "job", "jobs"));
    return kHuntOk;
  }
  if (!written) {
    spdlog::error("detections were lost: writing to {} failed ({})", out.name(), out.error());
    return kHuntFailed;
  }
  // Lost correlation input or output, reported above.
  if (hits.lost() + correlation_stats.unread + unwritten_fires > 0) return kHuntFailed;
  if (missing_inputs + unreadable + partly_read > 0 || totals.rejected > 0 || totals.lost_chunks > 0) {
    std::vector<std::string> lost;
    if (missing_inputs + unreadable > 0) lost.push_back(plural(missing_inputs + unreadable, "input", "inputs"));
    if (partly_read > 0) lost.push_back("the end of " + plural(partly_read, "input", "inputs"));
    if (totals.rejected > 0) lost.push_back(plural(totals.rejected, "record", "records"));
    if (totals.lost_chunks > 0) lost.push_back(plural(totals.lost_chunks, "EVTX chunk", "EVTX chunks"));
    std::string lost_summary = lost.back();
    if (lost.size() > 1)
      lost_summary = join(std::vector<std::string>(lost.begin(), lost.end() - 1), ", ") + " and " + lost.back();
    if (inputs_read == 0 && totals.events == 0) {
      spdlog::error("no input could be read: {} could not be read (see the messages above)", lost_summary);
      return kHuntFailed;
    }
    spdlog::error("{} could not be read (see the messages above); everything else was hunted", lost_summary);
    return kHuntPartlyUnreadable;
  }
  if (inputs_read == 0 && totals.events == 0 && !skipped.empty()) {
    // Empty files are logs with no events yet (a log just rotated), not errors.
    if (skipped.size() == 1 && skipped.count("empty") > 0) {
      spdlog::warn("every input is empty, so there was nothing to hunt");
      return kHuntOk;
    }
    const std::size_t listed = inputs.size() + skipped_entries.size();
    spdlog::error("no input could be read: {} EVTX or JSON log (-v lists them)",
                  listed == 1 ? std::string("the input is not an") : fmt::format("none of the {} inputs is an", listed));
    return kHuntFailed;
  }
  if (load.documents_failed > 0) {
    // The rules that failed were never run, so their detections are missing.
    spdlog::error("{} could not be loaded (see the errors above), so {} not run; every other rule ran",
                  plural(load.documents_failed, "rule document", "rule documents"),
                  load.documents_failed == 1 ? "it was" : "they were");
    return kHuntPartlyUnreadable;
  }
  if (options.fail_on_detections && total_detections + total_correlations > 0) return kHuntDetections;
  return kHuntOk;
}

}  // namespace sigscope
