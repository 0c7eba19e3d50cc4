// File and chunk level of the EVTX reader: mapping, header checks, CRC32
// checksums, record framing with resynchronisation after damage, and the
// parallel whole-file reader. Binary XML decoding is in evtx_binxml.cpp.
#include "sigscope/input/evtx.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "sigscope/input/evtx_binxml.h"
#include "sigscope/input/open_file.h"

namespace sigscope {

namespace {

using evtx::load_u32;
using evtx::load_u64;

constexpr char kRuleId[] = "";  // diagnostics about input files name no rule
constexpr std::uint32_t kRecordSignature = 0x00002a2a;  // "**\0\0"
constexpr std::uint32_t kRecordHeaderSize = 24;  // signature, size, record id, written time
constexpr std::uint32_t kMinRecordSize = kRecordHeaderSize + 4;  // plus the size copy

}  // namespace

std::uint32_t evtx_crc32(std::uint32_t crc, const std::uint8_t* data, std::size_t size) {
  // ISA-L picks a carry-less multiplication (PCLMULQDQ) kernel at run time.
  // zlib 1.2.13's table-driven crc32 took 3,984 of the 46,700 instructions
  // per event of an EVTX hunt (callgrind).
  return crc32_gzip_refl(crc, data, size);
}

namespace {

std::uint32_t crc32_of(const std::uint8_t* data, std::size_t size) { return evtx_crc32(0, data, size); }

bool all_zero(const std::uint8_t* data, std::size_t size) {
  // Each byte equals its successor and the first is zero; memcmp is vectorised.
  return size == 0 || (data[0] == 0 && std::memcmp(data, data + 1, size - 1) == 0);
}

enum class ChunkKind { Records, Unused, Bad };

// Classifies a chunk: an all-zero chunk is preallocated space, not damage.
ChunkKind classify_chunk(std::span<const std::uint8_t> chunk) {
  if (chunk.size() >= kEvtxChunkHeaderSize && std::memcmp(chunk.data(), "ElfChnk\0", 8) == 0) {
    return ChunkKind::Records;
  }
  return all_zero(chunk.data(), chunk.size()) ? ChunkKind::Unused : ChunkKind::Bad;
}

// Returns the end of the record area: the header's free space offset when
// it is plausible, else the end of the chunk data.
std::uint32_t records_end(std::span<const std::uint8_t> chunk, bool& offset_valid) {
  std::uint32_t free_space = load_u32(chunk.data() + 48);
  offset_valid = free_space >= kEvtxChunkHeaderSize && free_space <= chunk.size();
  return offset_valid ? free_space : static_cast<std::uint32_t>(chunk.size());
}

bool valid_record_at(std::span<const std::uint8_t> chunk, std::uint32_t pos, std::uint32_t end) {
  if (std::uint64_t{pos} + kRecordHeaderSize > end) return false;
  if (load_u32(chunk.data() + pos) != kRecordSignature) return false;
  std::uint32_t size = load_u32(chunk.data() + pos + 4);
  return size >= kMinRecordSize && std::uint64_t{pos} + size <= end &&
         load_u32(chunk.data() + pos + size - 4) == size;
}

// True when the record at `pos` runs past `end`, the end of a chunk cut
// short by the end of the file, and would fit in a whole chunk: the
// truncation, not damage, took its end.
bool cut_off_by_truncation(std::span<const std::uint8_t> chunk, std::uint32_t pos, std::uint32_t end) {
  if (chunk.size() >= kEvtxChunkSize || end != chunk.size()) return false;
  if (std::uint64_t{pos} + 8 > end || load_u32(chunk.data() + pos) != kRecordSignature) return false;
  const std::uint32_t size = load_u32(chunk.data() + pos + 4);
  return size >= kMinRecordSize && std::uint64_t{pos} + size > end && std::uint64_t{pos} + size <= kEvtxChunkSize;
}

// Calls on_record(offset, size) for each well-framed record in
// [512, end) and on_damage(offset, reason) for each damaged stretch, after
// which it resumes at the next offset that contains a well-framed record.
// EvtxFile::open and parse_chunk both frame with this function, so record
// numbers agree between them.
template <typename OnRecord, typename OnDamage>
void frame_records(std::span<const std::uint8_t> chunk, std::uint32_t end, OnRecord on_record,
                   OnDamage on_damage) {
  std::uint32_t pos = kEvtxChunkHeaderSize;
  while (std::uint64_t{pos} + kRecordHeaderSize <= end) {
    if (valid_record_at(chunk, pos, end)) {
      std::uint32_t size = load_u32(chunk.data() + pos + 4);
      on_record(pos, size);
      pos += size;
      continue;
    }
    if (load_u32(chunk.data() + pos) == kRecordSignature) {
      std::uint32_t size = load_u32(chunk.data() + pos + 4);
      if (size < kMinRecordSize || std::uint64_t{pos} + size > end) {
        on_damage(pos, fmt::format("record has a bad size ({} bytes, {} left in the chunk)",
                                   size, end - pos));
      } else {
        on_damage(pos, fmt::format("record size {} does not match the copy at its end ({})",
                                   size, load_u32(chunk.data() + pos + size - 4)));
      }
    } else if (all_zero(chunk.data() + pos, end - pos)) {
      return;  // zero padding after the last record
    } else {
      on_damage(pos, "no record signature where a record should start");
    }
    std::uint32_t next = pos + 1;
    while (std::uint64_t{next} + kRecordHeaderSize <= end && !valid_record_at(chunk, next, end)) {
      ++next;
    }
    pos = next;
  }
}

std::string chunk_location(std::size_t index) {
  return fmt::format("chunk {} at offset {:#x}", index,
                     kEvtxFileHeaderSize + index * kEvtxChunkSize);
}

}  // namespace

ChunkStats& ChunkStats::operator+=(const ChunkStats& other) {
  records += other.records;
  skipped_records += other.skipped_records;
  bad_chunks += other.bad_chunks;
  checksum_errors += other.checksum_errors;
  truncated_chunks += other.truncated_chunks;
  repaired_records += other.repaired_records;
  lost_chunks += other.lost_chunks;
  missing_records += other.missing_records;
  return *this;
}

// ---------------------------------------------------------------------------
// EvtxFile

namespace {
// Reads up to `size` bytes at `offset`, retrying short reads. Returns the
// bytes read: fewer than `size` at the end of the file, or on an error,
// which is then set in `error`.
std::size_t read_at(int fd, std::uint8_t* out, std::size_t size, std::size_t offset, std::string& error) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) error = std::strerror(errno);
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}
}  // namespace

std::optional<EvtxFile> EvtxFile::open(const std::string& path, DiagnosticList& diagnostics) {
  std::string open_error;
  int fd = open_regular_file(path, open_error);
  if (fd < 0) {
    diagnostics.error(path, 0, 0, kRuleId, open_error, "check the path and its read permission");
    return std::nullopt;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    diagnostics.error(path, 0, 0, kRuleId, fmt::format("cannot stat EVTX file: {}", std::strerror(errno)));
    ::close(fd);
    return std::nullopt;
  }
  if (!S_ISREG(info.st_mode)) {
    diagnostics.error(path, 0, 0, kRuleId, "cannot read EVTX file: not a regular file",
                      "pass the path of an .evtx file");
    ::close(fd);
    return std::nullopt;
  }
  auto size = static_cast<std::size_t>(info.st_size);
  if (size < kEvtxFileHeaderSize) {
    diagnostics.error(path, 0, 0, kRuleId,
                      fmt::format("file is too small to be EVTX ({} bytes, the file header "
                                  "alone is {} bytes)",
                                  size, kEvtxFileHeaderSize));
    ::close(fd);
    return std::nullopt;
  }
  EvtxFile file;
  file.path_ = path;
  file.size_ = size;
  // Small files are read whole: the EVTX corpus's thousands of small files
  // hunted with two threads ran about 5 % faster than mapped, since
  // unmapping a file stops the other threads to flush their TLBs. Larger
  // files are read chunk by chunk, starting with the file header here, so a
  // worker keeps one chunk of them in memory, not the file.
  const std::size_t first_read = size < kReadWholeMaxBytes ? size : kEvtxFileHeaderSize;
  file.buffer_ = std::make_unique_for_overwrite<std::uint8_t[]>(first_read);
  std::string error;
  const std::size_t got = read_at(fd, file.buffer_.get(), first_read, 0, error);
  if (got < first_read) {
    diagnostics.error(path, 0, 0, kRuleId,
                      error.empty() ? fmt::format("cannot read EVTX file: it shrank to {} bytes while being read", got)
                                    : fmt::format("cannot read EVTX file: {}", error),
                      "check that no other program is writing the file");
    ::close(fd);
    return std::nullopt;
  }
  if (size < kReadWholeMaxBytes) {
    ::close(fd);
    file.data_ = file.buffer_.get();
  } else {
    file.fd_ = fd;
  }
  return finish_open(std::move(file), diagnostics);
}

std::optional<EvtxFile> EvtxFile::from_memory(const std::string& name, std::shared_ptr<const std::string> bytes,
                                              DiagnosticList& diagnostics) {
  if (!bytes || bytes->size() < kEvtxFileHeaderSize) {
    diagnostics.error(name, 0, 0, kRuleId,
                      fmt::format("data is too small to be EVTX ({} bytes, the file header alone is {} bytes)",
                                  bytes ? bytes->size() : 0, kEvtxFileHeaderSize));
    return std::nullopt;
  }
  EvtxFile file;
  file.path_ = name;
  file.data_ = reinterpret_cast<const std::uint8_t*>(bytes->data());
  file.size_ = bytes->size();
  file.owner_ = std::move(bytes);
  return finish_open(std::move(file), diagnostics);
}

std::optional<EvtxHeader> check_evtx_header(const std::string& name, std::span<const std::uint8_t> header,
                                            std::span<const std::uint8_t> first_chunk, DiagnosticList& diagnostics) {
  EvtxHeader info;
  if (std::memcmp(header.data(), "ElfFile\0", 8) != 0) {
    // The records are all in the chunks, so a carved or damaged log whose
    // header is broken can still be read when its first chunk is intact.
    if (first_chunk.size() < 8 || std::memcmp(first_chunk.data(), "ElfChnk\0", 8) != 0) {
      diagnostics.error(name, 0, 0, kRuleId,
                        "not an EVTX file: the file header lacks the \"ElfFile\" signature, and no chunk follows it");
      return std::nullopt;
    }
    diagnostics.warning(name, 0, 0, kRuleId,
                        "the file header lacks the \"ElfFile\" signature, but its first chunk is valid; reading the "
                        "chunks without the header",
                        "check how the file was copied or carved; its records are read as they are");
    return info;
  }
  std::uint32_t stored_crc = load_u32(header.data() + 124);
  std::uint32_t actual_crc = crc32_of(header.data(), 120);
  if (stored_crc != actual_crc) {
    diagnostics.warning(name, 0, 0, kRuleId,
                        fmt::format("file header checksum mismatch (stored {:#010x}, computed "
                                    "{:#010x}); reading the chunks anyway",
                                    stored_crc, actual_crc));
  }
  std::uint16_t major_version = evtx::load_u16(header.data() + 38);
  if (major_version != 3) {
    diagnostics.warning(name, 0, 0, kRuleId,
                        fmt::format("unknown EVTX major version {} (expected 3); reading anyway",
                                    major_version));
  }
  info.flags = load_u32(header.data() + 120);
  // The header's chunk count (offset 42) can lag behind the chunks written in
  // a dirty file. A count above the chunks the file contains means it was cut.
  info.listed_chunks = evtx::load_u16(header.data() + 42);
  return info;
}

std::size_t report_missing_evtx_chunks(const std::string& name, std::size_t listed, std::size_t present,
                                       DiagnosticList& diagnostics) {
  if (listed <= present) return 0;
  diagnostics.error(name, 0, 0, kRuleId,
                    fmt::format("the file header lists {} chunks but the file holds {}: the file was cut "
                                "short, and the records of the last {} are lost",
                                listed, present, listed - present),
                    "copy the log again from its source");
  return listed - present;
}

namespace {
// Returns the number of well-framed records in `chunk` (see frame_records).
std::uint64_t count_framed_records(std::span<const std::uint8_t> chunk) {
  if (classify_chunk(chunk) != ChunkKind::Records) return 0;
  std::uint64_t framed = 0;
  bool offset_valid = false;
  frame_records(
      chunk, records_end(chunk, offset_valid), [&](std::uint32_t, std::uint32_t) { ++framed; },
      [](std::uint32_t, const std::string&) {});
  return framed;
}
}  // namespace

std::optional<EvtxFile> EvtxFile::finish_open(EvtxFile file, DiagnosticList& diagnostics) {
  const std::string& path = file.path_;
  const std::size_t size = file.size_;
  const std::uint8_t* header = file.data_ ? file.data_ : file.buffer_.get();
  const std::size_t chunks = (size - kEvtxFileHeaderSize + kEvtxChunkSize - 1) / kEvtxChunkSize;
  std::vector<std::uint8_t> buffer;
  // The first chunk matters only when the header lacks its signature.
  std::span<const std::uint8_t> first;
  if (std::memcmp(header, "ElfFile\0", 8) != 0 && chunks > 0)
    first = file.fd_ >= 0 ? file.chunk_for_framing(0, buffer) : file.chunk(0, buffer);
  const std::optional<EvtxHeader> info = check_evtx_header(path, {header, kEvtxFileHeaderSize}, first, diagnostics);
  if (!info) return std::nullopt;
  file.header_flags_ = info->flags;
  file.missing_chunks_ = report_missing_evtx_chunks(path, info->listed_chunks, chunks, diagnostics);
  file.chunk_record_base_.resize(chunks);
  std::uint64_t framed = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    file.chunk_record_base_[i] = framed;
    framed += count_framed_records(file.fd_ >= 0 ? file.chunk_for_framing(i, buffer) : file.chunk(i, buffer));
  }
  file.framed_records_ = framed;
  return file;
}

EvtxFile EvtxFile::from_chunks(const std::string& name, std::size_t first_chunk, std::uint64_t records_before,
                               std::shared_ptr<const std::string> chunks) {
  EvtxFile file;
  file.path_ = name;
  file.first_chunk_ = first_chunk;
  file.data_offset_ = kEvtxFileHeaderSize + first_chunk * kEvtxChunkSize;
  file.data_ = reinterpret_cast<const std::uint8_t*>(chunks->data());
  file.size_ = file.data_offset_ + chunks->size();
  const std::size_t held = (chunks->size() + kEvtxChunkSize - 1) / kEvtxChunkSize;
  file.owner_ = std::move(chunks);
  file.chunk_record_base_.resize(held);
  std::uint64_t framed = records_before;
  std::vector<std::uint8_t> unused;
  for (std::size_t i = 0; i < held; ++i) {
    file.chunk_record_base_[i] = framed;
    framed += count_framed_records(file.chunk(first_chunk + i, unused));
  }
  file.framed_records_ = framed;
  return file;
}

EvtxFile::EvtxFile(EvtxFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      data_offset_(other.data_offset_),
      first_chunk_(other.first_chunk_),
      size_(std::exchange(other.size_, 0)),
      fd_(std::exchange(other.fd_, -1)),
      header_flags_(other.header_flags_),
      chunk_record_base_(std::move(other.chunk_record_base_)),
      framed_records_(other.framed_records_),
      missing_chunks_(other.missing_chunks_),
      owner_(std::move(other.owner_)),
      buffer_(std::move(other.buffer_)),
      shrink_reported_(std::move(other.shrink_reported_)) {}

EvtxFile& EvtxFile::operator=(EvtxFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    data_offset_ = other.data_offset_;
    first_chunk_ = other.first_chunk_;
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
    header_flags_ = other.header_flags_;
    chunk_record_base_ = std::move(other.chunk_record_base_);
    framed_records_ = other.framed_records_;
    missing_chunks_ = other.missing_chunks_;
    owner_ = std::move(other.owner_);
    buffer_ = std::move(other.buffer_);
    shrink_reported_ = std::move(other.shrink_reported_);
  }
  return *this;
}

EvtxFile::~EvtxFile() { release(); }

void EvtxFile::release() noexcept {
  owner_.reset();
  buffer_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  data_ = nullptr;
  size_ = 0;
}

std::size_t EvtxFile::chunk_size(std::size_t index) const {
  const std::size_t begin = kEvtxFileHeaderSize + index * kEvtxChunkSize;
  return begin >= size_ ? 0 : std::min(kEvtxChunkSize, size_ - begin);
}

std::span<const std::uint8_t> EvtxFile::chunk_for_framing(std::size_t index, std::vector<std::uint8_t>& buffer) const {
  // Framing reads the chunk header and the records before the free space
  // offset, often a quarter of the chunk. A chunk without the signature, or
  // with an implausible offset, is read whole as chunk() reads it.
  const std::size_t begin = kEvtxFileHeaderSize + index * kEvtxChunkSize;
  const std::size_t length = chunk_size(index);
  const std::size_t header = std::min(length, kEvtxChunkHeaderSize);
  buffer.resize(kEvtxChunkSize);
  std::string error;
  std::size_t got = read_at(fd_, buffer.data(), header, begin, error);
  if (got < header) return {buffer.data(), got};  // the file shrank
  std::size_t want = length;
  if (header == kEvtxChunkHeaderSize && std::memcmp(buffer.data(), "ElfChnk\0", 8) == 0) {
    const std::uint32_t free_space = load_u32(buffer.data() + 48);
    if (free_space >= kEvtxChunkHeaderSize && free_space <= length) want = free_space;
  }
  if (want > got) got += read_at(fd_, buffer.data() + got, want - got, begin + got, error);
  return {buffer.data(), got};
}

std::span<const std::uint8_t> EvtxFile::chunk(std::size_t index, std::vector<std::uint8_t>& buffer) const {
  const std::size_t begin = kEvtxFileHeaderSize + index * kEvtxChunkSize;
  const std::size_t length = chunk_size(index);
  if (length == 0) return {};
  if (data_ != nullptr) return {data_ + (begin - data_offset_), length};
  buffer.resize(kEvtxChunkSize);
  std::string error;
  return {buffer.data(), read_at(fd_, buffer.data(), length, begin, error)};
}

// ---------------------------------------------------------------------------
// EvtxChunkParser

struct EvtxChunkParser::Impl {
  evtx::BinXmlDecoder decoder;
  std::vector<std::uint8_t> chunk_buffer;  // chunks of files read chunk by chunk
};

EvtxChunkParser::EvtxChunkParser() : impl_(std::make_unique<Impl>()) {}
EvtxChunkParser::~EvtxChunkParser() = default;
EvtxChunkParser::EvtxChunkParser(EvtxChunkParser&&) noexcept = default;
EvtxChunkParser& EvtxChunkParser::operator=(EvtxChunkParser&&) noexcept = default;

ChunkStats EvtxChunkParser::parse_chunk(const EvtxFile& file, std::size_t index,
                                        const std::function<void(const RawEvent&)>& sink,
                                        DiagnosticList& diagnostics) {
  ChunkStats stats;
  if (index < file.first_chunk() || index >= file.chunk_count()) return stats;
  std::span<const std::uint8_t> chunk = file.chunk(index, impl_->chunk_buffer);
  const std::uint64_t chunk_offset = kEvtxFileHeaderSize + index * kEvtxChunkSize;
  if (chunk.size() < file.chunk_size(index)) {
    ++stats.lost_chunks;
    if (file.first_shrink_report())
      diagnostics.error(file.path(), 0, 0, kRuleId,
                        fmt::format("{}: only {} of the chunk's {} bytes could be read: the file shrank or became "
                                    "unreadable after it was opened, so the records of this chunk and of every "
                                    "later chunk that cannot be read are lost (the summary counts them)",
                                    chunk_location(index), chunk.size(), file.chunk_size(index)),
                        "hunt the file again when no other program is writing it");
    return stats;
  }

  switch (classify_chunk(chunk)) {
    case ChunkKind::Unused:
      return stats;
    case ChunkKind::Bad:
      ++stats.bad_chunks;
      diagnostics.error(file.path(), 0, 0, kRuleId,
                        chunk.size() < kEvtxChunkHeaderSize
                            ? fmt::format("{}: chunk is truncated to {} bytes, shorter than its "
                                          "header; skipped",
                                          chunk_location(index), chunk.size())
                            : fmt::format("{}: no \"ElfChnk\" signature; chunk skipped",
                                          chunk_location(index)));
      return stats;
    case ChunkKind::Records:
      break;
  }

  const std::uint8_t* header = chunk.data();
  bool truncated = chunk.size() < kEvtxChunkSize;
  if (truncated) {
    ++stats.truncated_chunks;
    diagnostics.warning(file.path(), 0, 0, kRuleId,
                        fmt::format("{}: chunk is truncated to {} of {} bytes; reading the "
                                    "records that fit",
                                    chunk_location(index), chunk.size(), kEvtxChunkSize));
  }
  // The header checksum covers bytes 0-119 and 128-511.
  std::uint32_t header_crc = evtx_crc32(crc32_of(header, 120), header + 128, kEvtxChunkHeaderSize - 128);
  if (header_crc != load_u32(header + 124)) {
    ++stats.checksum_errors;
    diagnostics.warning(file.path(), 0, 0, kRuleId,
                        fmt::format("{}: chunk header checksum mismatch (stored {:#010x}, "
                                    "computed {:#010x}); reading the records anyway",
                                    chunk_location(index), load_u32(header + 124), header_crc));
  }
  bool offset_valid = false;
  std::uint32_t end = records_end(chunk, offset_valid);
  if (!offset_valid && !truncated) {
    diagnostics.warning(file.path(), 0, 0, kRuleId,
                        fmt::format("{}: free space offset {:#x} is outside the chunk; reading "
                                    "records up to the end of the chunk",
                                    chunk_location(index), load_u32(header + 48)));
  } else if (offset_valid && !truncated) {
    std::uint32_t data_crc = crc32_of(header + kEvtxChunkHeaderSize, end - kEvtxChunkHeaderSize);
    if (data_crc != load_u32(header + 52)) {
      ++stats.checksum_errors;
      diagnostics.warning(file.path(), 0, 0, kRuleId,
                          fmt::format("{}: event records checksum mismatch (stored {:#010x}, "
                                      "computed {:#010x}); reading the records anyway",
                                      chunk_location(index), load_u32(header + 52), data_crc));
    }
  }

  evtx::BinXmlDecoder& decoder = impl_->decoder;
  decoder.begin_chunk(chunk);
  std::uint64_t record_number = file.first_record_number(index);
  RawEvent event;
  std::uint64_t first_repaired_record = 0, first_repaired_offset = 0;
  std::uint64_t cut_records = 0;  // cut off by the end of the file, so not corrupt
  frame_records(
      chunk, end,
      [&](std::uint32_t pos, std::uint32_t size) {
        evtx::DecodeError error;
        std::uint64_t written_time = load_u64(chunk.data() + pos + 16);
        if (decoder.decode_record(pos + kRecordHeaderSize, pos + size - 4, written_time, error)) {
          event.fields = decoder.fields();
          event.record = record_number;
          event.timestamp = decoder.timestamp();
          event.source_offset = chunk_offset + pos;
          ++stats.records;
          if (decoder.replaced_units() > 0 && stats.repaired_records++ == 0) {
            first_repaired_record = record_number;
            first_repaired_offset = event.source_offset;
          }
          sink(event);
        } else {
          ++stats.skipped_records;
          std::string where =
              error.offset != 0 ? fmt::format(" at offset {:#x}", chunk_offset + error.offset) : "";
          diagnostics.error(
              file.path(), 0, 0, kRuleId,
              fmt::format("{}: record {} (EventRecordID {}) at offset {:#x}: {}{}; skipped",
                          chunk_location(index), record_number, load_u64(chunk.data() + pos + 8),
                          chunk_offset + pos, error.reason, where));
        }
        ++record_number;
      },
      [&](std::uint32_t pos, const std::string& reason) {
        if (cut_off_by_truncation(chunk, pos, end)) {
          ++cut_records;
          diagnostics.error(file.path(), 0, 0, kRuleId,
                            fmt::format("{}: the record at offset {:#x} is truncated: the file ends {} bytes into "
                                        "its {} bytes; skipped",
                                        chunk_location(index), chunk_offset + pos, end - pos,
                                        load_u32(chunk.data() + pos + 4)),
                            "copy the log again from its source");
          return;
        }
        ++stats.skipped_records;
        diagnostics.error(file.path(), 0, 0, kRuleId,
                          fmt::format("{}: {} at offset {:#x}; skipped to the next record",
                                      chunk_location(index), reason, chunk_offset + pos));
      });
  if (truncated) {
    // The header gives the numbers of the chunk's first and last records, so
    // the records cut off with the end of the file can be counted. A record
    // takes at least 28 bytes, which bounds a plausible count.
    const std::uint64_t first = load_u64(header + 8), last = load_u64(header + 16);
    const std::uint64_t whole = stats.records + stats.skipped_records;
    constexpr std::uint64_t kMaxRecordsPerChunk = kEvtxChunkSize / 28;
    stats.missing_records = cut_records;
    if (last >= first && last - first < kMaxRecordsPerChunk && last - first + 1 > whole + cut_records) {
      stats.missing_records = last - first + 1 - whole;
      diagnostics.error(file.path(), 0, 0, kRuleId,
                        fmt::format("{}: the chunk header lists {} records (numbers {} to {}) but the truncated "
                                    "chunk holds {} whole records; the other {} are lost",
                                    chunk_location(index), last - first + 1, first, last, whole,
                                    stats.missing_records),
                        "copy the log again from its source");
    }
  }
  if (stats.repaired_records > 0) {
    // One message per chunk: hostile files can hold thousands of such records.
    diagnostics.warning(file.path(), 0, 0, kRuleId,
                        fmt::format("{}: {} records hold unpaired UTF-16 surrogates, read as U+FFFD; the first "
                                    "is record {} at offset {:#x}",
                                    chunk_location(index), stats.repaired_records, first_repaired_record,
                                    first_repaired_offset));
  }
  return stats;
}

// ---------------------------------------------------------------------------
// read_evtx_file

EvtxReadStats read_evtx_file(const std::string& path, unsigned threads,
                             const std::function<void(const RawEvent&, unsigned worker)>& sink,
                             DiagnosticList& diagnostics) {
  EvtxReadStats stats;
  std::optional<EvtxFile> file = EvtxFile::open(path, diagnostics);
  if (!file) return stats;
  stats.opened = true;
  stats.chunks = file->chunk_count();
  stats.bytes = file->size();

  unsigned workers = threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  workers = static_cast<unsigned>(std::min<std::size_t>(workers, std::max<std::size_t>(1, stats.chunks)));

  std::atomic<std::size_t> next_chunk{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // guards stats and failure
  std::exception_ptr failure;

  auto work = [&](unsigned worker) {
    EvtxChunkParser parser;
    ChunkStats local;
    auto chunk_sink = [&](const RawEvent& event) { sink(event, worker); };
    try {
      while (!stop.load(std::memory_order_relaxed)) {
        std::size_t index = next_chunk.fetch_add(1, std::memory_order_relaxed);
        if (index >= stats.chunks) break;
        local += parser.parse_chunk(*file, index, chunk_sink, diagnostics);
      }
    } catch (...) {
      stop = true;
      std::lock_guard lock(mutex);
      if (!failure) failure = std::current_exception();
    }
    std::lock_guard lock(mutex);
    stats += local;
  };

  if (workers == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(workers);
    for (unsigned w = 0; w < workers; ++w) pool.emplace_back(work, w);
    for (std::thread& thread : pool) thread.join();
  }
  if (failure) std::rethrow_exception(failure);
  return stats;
}

}  // namespace sigscope
