// Reader for Windows XML event log files (.evtx): memory-maps a file, checks
// its headers and checksums, and decodes each record's Binary XML straight
// into the flat RawEvent form, without rendering XML text.
//
// Layout (little-endian): a 4096-byte file header ("ElfFile\0") followed by
// independent 64 KiB chunks ("ElfChnk\0"). Each chunk has a 512-byte header
// with two CRC32 checksums, a string table and a template table, then event
// records ("**\0\0", size, record id, written time, Binary XML, size copy).
// Templates and names are referenced by offset within their chunk, so chunks
// can be decoded in parallel.
//
// Field naming (one FieldValue per leaf value, in document order):
//   System:   Provider_Name, Provider_Guid, EventSourceName, EventID,
//             EventID_Qualifiers, Version, Level, Task, Opcode, Keywords,
//             TimeCreated, EventRecordID, ActivityID, RelatedActivityID,
//             ProcessID, ThreadID, Channel, Computer, Security_UserID. Other
//             System leaves use their element name, other attributes
//             Element_Attribute.
//   EventData: <Data Name="X">v</Data> gives X, an unnamed <Data> gives a
//             repeated field "Data", and <Binary> gives "Binary" (hex).
//   UserData and every other section: each leaf element gives its element
//             name (so it may repeat a System name such as Channel), and each
//             attribute other than xmlns gives Element_Attribute.
// An element without content gives an empty string unless its start tag
// declares attributes or it is one of the attribute-only System elements
// (Provider, TimeCreated, Correlation, Execution, Security). An element whose only content is an optional substitution with a
// NULL value is left out, as Windows does. An array substitution gives one
// value per item under the same name.
//
// Trailing carriage returns, line feeds and tabs of every value are removed
// (rendered messages such as "%%1539\r\n\t\t"); nothing else is trimmed.
// Value text: integers in decimal (ValueType::Number), booleans true/false
// (ValueType::Bool), everything else ValueType::String: hex integers and
// SizeT as lowercase "0x" without padding (as Event Viewer shows them),
// GUIDs as {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX} uppercase, SIDs as
// S-1-5-18, binary as uppercase hex, FILETIME and SYSTEMTIME as ISO 8601 UTC
// with 7 fraction digits ("2021-01-28T09:58:44.5230589Z", the 100 ns
// resolution of FILETIME), ANSI strings decoded as Windows-1252.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sigscope/common/diagnostics.h"
#include "sigscope/input/event.h"

namespace sigscope {

inline constexpr std::size_t kEvtxFileHeaderSize = 4096;
inline constexpr std::size_t kEvtxChunkSize = 65536;
inline constexpr std::size_t kEvtxChunkHeaderSize = 512;

// Counts for one chunk or one file.
// Continues the CRC-32 (the IEEE polynomial, reflected, as in zlib and EVTX
// checksums) `crc` over `size` bytes at `data`; `crc` is 0 to start.
std::uint32_t evtx_crc32(std::uint32_t crc, const std::uint8_t* data, std::size_t size);

struct ChunkStats {
  std::uint64_t records = 0;          // records passed to the sink
  std::uint64_t skipped_records = 0;  // records reported as bad and not passed on
  std::uint64_t bad_chunks = 0;       // chunks skipped whole (bad signature, too short)
  std::uint64_t checksum_errors = 0;  // header or record-data CRC32 mismatches (still parsed)
  std::uint64_t truncated_chunks = 0;  // a last chunk cut short; the records that fit are read
  std::uint64_t repaired_records = 0;  // records read with unpaired UTF-16 surrogates as U+FFFD
  std::uint64_t lost_chunks = 0;  // chunks that could not be read because the file shrank after open
  // Records of a truncated chunk that the end of the file cut off: the one
  // it cut through and those its header lists past the end of the file.
  std::uint64_t missing_records = 0;

  ChunkStats& operator+=(const ChunkStats& other);
};

struct EvtxReadStats : ChunkStats {
  std::uint64_t chunks = 0;  // chunks present in the file, used or not
  std::uint64_t bytes = 0;   // file size
  bool opened = false;       // false when the file could not be opened as EVTX
};

// The facts of an EVTX file header that the reader keeps.
struct EvtxHeader {
  std::uint32_t flags = 0;          // bit 0x1: dirty
  std::size_t listed_chunks = 0;    // the header's chunk count, 0 when the header lacks its signature
};

// Checks the file header of the EVTX data `name`: `header` is its first
// kEvtxFileHeaderSize bytes and `first_chunk` the chunk after it (it may be
// empty when the header has its signature). A bad checksum, an unknown major
// version, or a header without its signature before an intact first chunk
// are reported as warnings. Returns nullopt and reports an error when
// neither the header nor the first chunk has its signature.
std::optional<EvtxHeader> check_evtx_header(const std::string& name, std::span<const std::uint8_t> header,
                                            std::span<const std::uint8_t> first_chunk, DiagnosticList& diagnostics);

// Reports an error when the header lists more chunks (`listed`) than the
// data contains (`present`), since the file was cut short. Returns the
// number missing.
std::size_t report_missing_evtx_chunks(const std::string& name, std::size_t listed, std::size_t present,
                                       DiagnosticList& diagnostics);

// An .evtx file open for reading. It is move-only. Files smaller than
// kReadWholeMaxBytes are read into memory at open. Larger ones stay open and
// each chunk is read when it is needed, so memory stays flat whatever the
// size. A file that shrinks while it is read then gives an error, where a
// mapped file would stop the process with SIGBUS.
class EvtxFile {
 public:
  // Opens the file at `path`, checks its file header and frames the records
  // of every chunk once to number them. Returns nullopt and reports an
  // error when the file cannot be read or is not EVTX. A bad header
  // checksum or an unknown major version is only a warning, and a dirty
  // file (flag 0x1) is read like any other. A file with fewer chunks than
  // its header lists (cut short) is read, with an error for the missing ones.
  static std::optional<EvtxFile> open(const std::string& path, DiagnosticList& diagnostics);
  // Like open(), for EVTX bytes already in memory (a decompressed input);
  // `bytes` stays alive as long as the file. `name` is used in messages.
  static std::optional<EvtxFile> from_memory(const std::string& name, std::shared_ptr<const std::string> bytes,
                                             DiagnosticList& diagnostics);
  // Creates a file of consecutive chunks of an EVTX file read as a stream,
  // without its file header (see check_evtx_header): `chunks` contains chunks
  // first_chunk, first_chunk + 1 and so on, the last one possibly cut short. Chunks keep
  // their index and offset in the whole file, and records their number, given
  // `records_before`, the records framed in the chunks before first_chunk.
  static EvtxFile from_chunks(const std::string& name, std::size_t first_chunk, std::uint64_t records_before,
                              std::shared_ptr<const std::string> chunks);

  EvtxFile(EvtxFile&& other) noexcept;
  EvtxFile& operator=(EvtxFile&& other) noexcept;
  EvtxFile(const EvtxFile&) = delete;
  EvtxFile& operator=(const EvtxFile&) = delete;
  ~EvtxFile();

  const std::string& path() const { return path_; }
  std::size_t size() const { return size_; }

  // Returns the number of chunks stored after the file header, counting a
  // truncated last chunk. This can differ from the header's chunk count,
  // which can be stale in dirty files. For chunks from from_chunks(), it is
  // the index after the last chunk held.
  std::size_t chunk_count() const { return first_chunk_ + chunk_record_base_.size(); }
  // Returns the index of the first chunk held: 0 except from from_chunks().
  std::size_t first_chunk() const { return first_chunk_; }
  // Returns how many chunks the file header lists beyond those the file
  // holds: chunks lost when the file was cut short, 0 for a whole file.
  std::size_t missing_chunks() const { return missing_chunks_; }

  // Returns the bytes of chunk `index`: a view of the file's bytes when it
  // is held in memory, else the chunk read into `buffer`, valid until the
  // buffer's next use. The view is shorter than chunk_size(index) only when
  // the file shrank after open() or cannot be read any more.
  std::span<const std::uint8_t> chunk(std::size_t index, std::vector<std::uint8_t>& buffer) const;
  // Returns the size of chunk `index` when the file was opened: kEvtxChunkSize,
  // or less for a truncated last chunk.
  std::size_t chunk_size(std::size_t index) const;
  // Returns true the first time it is called (from any thread), so a file
  // that shrank after open() is reported once, not once per lost chunk.
  bool first_shrink_report() const { return !shrink_reported_->exchange(true); }

  // Returns the 1-based file-order number of the first record framed in
  // chunk `index`. Numbers count every record with a valid frame
  // (signature, size and size copy), so a record whose Binary XML is bad
  // still uses its number.
  std::uint64_t first_record_number(std::size_t index) const {
    return chunk_record_base_[index - first_chunk_] + 1;
  }

  // Returns the number of framed records in the whole file, or for chunks
  // from from_chunks(), up to the end of the last chunk held.
  std::uint64_t framed_record_count() const { return framed_records_; }

  // Files smaller than this are read whole into memory at open. Each worker
  // keeps one such file in memory at a time, so eight workers over a folder of 15 MB
  // exports peaked at 172 MB with a 16 MiB limit, and at 96 MB with this one.
  static constexpr std::size_t kReadWholeMaxBytes = 2u << 20;

  bool dirty() const { return (header_flags_ & 1u) != 0; }

 private:
  EvtxFile() = default;
  void release() noexcept;
  // Like chunk() for a file read chunk by chunk, but stops at the free space
  // offset: enough for classify_chunk() and frame_records().
  std::span<const std::uint8_t> chunk_for_framing(std::size_t index, std::vector<std::uint8_t>& buffer) const;
  // Checks the header and numbers the records of a file whose bytes are set.
  static std::optional<EvtxFile> finish_open(EvtxFile file, DiagnosticList& diagnostics);

  std::string path_;
  const std::uint8_t* data_ = nullptr;  // the file's bytes when held in memory, else nullptr
  std::size_t data_offset_ = 0;         // the file offset of data_[0]
  std::size_t first_chunk_ = 0;         // the index of the first chunk held
  std::size_t size_ = 0;
  int fd_ = -1;  // open file that is read chunk by chunk, else -1
  std::uint32_t header_flags_ = 0;
  std::vector<std::uint64_t> chunk_record_base_;  // framed records before each chunk held
  std::uint64_t framed_records_ = 0;
  std::size_t missing_chunks_ = 0;
  std::shared_ptr<const std::string> owner_;  // set for from_memory()
  std::unique_ptr<std::uint8_t[]> buffer_;    // the whole file, or the file header of a file read by chunks
  std::unique_ptr<std::atomic<bool>> shrink_reported_ = std::make_unique<std::atomic<bool>>(false);
};

// Per-thread decoding state, reused across chunks and files: name and
// template caches, output buffers and scratch space. After the buffers have
// grown to fit the largest record seen, decoding a record does not allocate.
// It is not thread-safe, so use one parser per thread.
class EvtxChunkParser {
 public:
  EvtxChunkParser();
  ~EvtxChunkParser();
  EvtxChunkParser(EvtxChunkParser&&) noexcept;
  EvtxChunkParser& operator=(EvtxChunkParser&&) noexcept;

  // Decodes chunk `index` of `file`, calling `sink` for each record in file
  // order. Bad records are reported with file, chunk, byte offset and reason
  // and skipped. Checksum mismatches are reported as warnings and the chunk
  // is still decoded. RawEvent::record is the record's 1-based position in
  // the file (see EvtxFile::first_record_number) and source_offset its file
  // offset. RawEvent::timestamp is System/TimeCreated, or the record
  // header's written time when the event has no TimeCreated. The event and
  // its views are valid only during the sink call.
  ChunkStats parse_chunk(const EvtxFile& file, std::size_t index,
                         const std::function<void(const RawEvent&)>& sink,
                         DiagnosticList& diagnostics);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a whole .evtx file with up to `threads` workers (0 means one per
// hardware thread), decoding chunks in parallel. `sink` is called
// concurrently from several workers, so it must be thread-safe. `worker`
// (0 .. threads-1) identifies the calling worker so the sink can keep
// per-worker state. Records of one chunk arrive in order from one worker;
// chunks are not ordered relative to each other. An exception thrown by the
// sink stops the read and is rethrown here after all workers have stopped.
EvtxReadStats read_evtx_file(const std::string& path, unsigned threads,
                             const std::function<void(const RawEvent&, unsigned worker)>& sink,
                             DiagnosticList& diagnostics);

}  // namespace sigscope
