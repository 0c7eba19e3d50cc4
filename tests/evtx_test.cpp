// Tests of the EVTX reader: every corpus file against evtxexport
// (libevtx-utils) as the reference, and damaged copies of corpus files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

#include "sigscope/input/evtx.h"
#include "sigscope/input/evtx_format.h"
#include "sigscope/input/sources.h"
#include "sigscope/input/evtx_binxml.h"
#include "test_support.h"

// Heap allocations counted while g_count_allocations is set, for the test
// that the reader does not allocate per record once warmed up.
std::atomic<bool> g_count_allocations{false};
std::atomic<std::size_t> g_allocations{0};

// GCC 12 flags free() on memory from the replaced operator new once both
// are inlined, although both sides use malloc/free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_count_allocations.load(std::memory_order_relaxed)) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace sigscope {
namespace {

namespace fs = std::filesystem;
using Field = std::pair<std::string, std::string>;
using Record = std::vector<Field>;

constexpr char kEvtxExport[] = "/usr/bin/evtxexport";

// Files on which evtxexport 20181227 (Debian 12) stops with "invalid binary
// XML token - unsupported type: 0x05" in libfwevt_xml_document_read_attribute
// before its first record: its Binary XML reader does not accept a value
// token inside an attribute of these records. There is no reference output
// for them, so the test only requires that our reader decodes every framed
// record without a diagnostic.
const std::set<std::string> kEvtxExportFails = {
    "EVTX-to-MITRE-Attack/Antivirus/ID1116-1117-Defender threat detected.evtx",
    "EVTX-to-MITRE-Attack/TA0001-Initial access/T1078-Valid accounts/ID1149-RDP success logins "
    "to multiple hosts.evtx",
    "EVTX-to-MITRE-Attack/TA0003-Persistence/T1546-Event Triggered Execution/ID800-4103-4104-WMI "
    "registration via PowerLurk.evtx",
    "EVTX-to-MITRE-Attack/TA0003-Persistence/T1574-Hijack Execution Flow/ID800-4103-4104-Print "
    "spooler privilege escalation (CVE-2020-1048).evtx",
    "EVTX-to-MITRE-Attack/TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify "
    "System Firewall/ID2003-4950-Firewall disabled.evtx",
    "EVTX-to-MITRE-Attack/TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify "
    "System Firewall/ID800-4103-Firewall disabled.evtx",
    "EVTX-to-MITRE-Attack/TA0008-Lateral Movement/T1021.006-Windows Remote "
    "Management/ID4656-WS Management listener enumeration.evtx",
};

// ---------------------------------------------------------------------------
// Corpus

fs::path corpus_dir() { return testing::shared_dir() / "corpus"; }

// Returns every .evtx file under corpus/evtx and corpus/sigma-regression, sorted.
std::vector<fs::path> corpus_files() {
  std::vector<fs::path> files;
  for (const char* folder : {"evtx", "sigma-regression"}) {
    fs::path root = corpus_dir() / folder;
    if (!fs::is_directory(root)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file() && entry.path().extension() == ".evtx") {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string corpus_name(const fs::path& file) {
  for (const char* folder : {"evtx", "sigma-regression"}) {
    fs::path root = corpus_dir() / folder;
    auto relative = file.lexically_relative(root);
    if (!relative.empty() && *relative.begin() != "..") return relative.string();
  }
  return file.string();
}

// ---------------------------------------------------------------------------
// Our reader

struct OurRead {
  std::vector<Record> records;  // in file order
  std::vector<std::string> timestamps;  // RawEvent::timestamp of each record
  std::vector<std::uint64_t> numbers;
  EvtxReadStats stats;
  DiagnosticList diagnostics;
};

void read_ours(const fs::path& file, unsigned threads, OurRead& out) {
  std::mutex mutex;
  std::map<std::uint64_t, std::pair<Record, std::string>> by_number;
  out.stats = read_evtx_file(
      file.string(), threads,
      [&](const RawEvent& event, unsigned) {
        Record record;
        for (const FieldValue& field : event.fields) {
          record.emplace_back(std::string(field.name), std::string(field.value));
        }
        std::lock_guard lock(mutex);
        by_number[event.record] = {std::move(record), std::string(event.timestamp)};
        out.numbers.push_back(event.record);
      },
      out.diagnostics);
  for (auto& [number, entry] : by_number) {
    out.records.push_back(std::move(entry.first));
    out.timestamps.push_back(std::move(entry.second));
  }
}

// ---------------------------------------------------------------------------
// evtxexport output

// Runs evtxexport in XML mode. Returns its exit status and stores its standard output.
int run_evtxexport(const fs::path& file, std::string& output) {
  std::string quoted = "'";
  for (char c : file.string()) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += "'";
  std::string command = std::string(kEvtxExport) + " -f xml " + quoted + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[65536];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct XmlElement {
  std::string name;
  std::vector<Field> attributes;
  std::vector<XmlElement> children;
  std::string text;  // direct text content, entities decoded
};

std::string decode_entities(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    std::size_t end = raw.find(';', i);
    std::string_view entity = raw.substr(i + 1, end - i - 1);
    if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "amp") {
      out += '&';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (!entity.empty() && entity[0] == '#') {
      unsigned long cp = entity.size() > 1 && entity[1] == 'x'
                             ? std::stoul(std::string(entity.substr(2)), nullptr, 16)
                             : std::stoul(std::string(entity.substr(1)));
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      }
    } else {
      out.append(raw.substr(i, end - i + 1));
    }
    i = end;
  }
  return out;
}

// Parses the element starting at `pos` (at '<') of evtxexport's XML. The
// output is well-formed XML whose text uses only &lt; &gt; &amp;, which is
// all this parser handles besides numeric character references.
bool parse_element(std::string_view xml, std::size_t& pos, XmlElement& element) {
  if (pos >= xml.size() || xml[pos] != '<') return false;
  std::size_t name_end = xml.find_first_of(" />", pos + 1);
  element.name = std::string(xml.substr(pos + 1, name_end - pos - 1));
  pos = name_end;
  while (true) {
    while (pos < xml.size() && xml[pos] == ' ') ++pos;
    if (pos >= xml.size()) return false;
    if (xml.compare(pos, 2, "/>") == 0) {
      pos += 2;
      return true;
    }
    if (xml[pos] == '>') {
      ++pos;
      break;
    }
    std::size_t equals = xml.find('=', pos);
    std::string name(xml.substr(pos, equals - pos));
    std::size_t value_end = xml.find('"', equals + 2);
    element.attributes.emplace_back(name, decode_entities(xml.substr(equals + 2, value_end - equals - 2)));
    pos = value_end + 1;
  }
  std::string raw_text;
  while (pos < xml.size()) {
    if (xml.compare(pos, 2, "</") == 0) {
      pos = xml.find('>', pos) + 1;
      element.text = decode_entities(raw_text);
      return true;
    }
    if (xml[pos] == '<') {
      XmlElement child;
      if (!parse_element(xml, pos, child)) return false;
      element.children.push_back(std::move(child));
      continue;
    }
    raw_text += xml[pos++];
  }
  return false;
}

// ---------------------------------------------------------------------------
// Flattening evtxexport's XML with the naming rules documented in evtx.h

void flatten(const XmlElement& element, int depth, const std::string& section, Record& out) {
  bool system = section == "System";
  bool data = element.name == "Data" && !system;
  const std::string* data_name = nullptr;

  if (depth >= 1) {
    for (const auto& [name, value] : element.attributes) {
      if (name == "xmlns" || name.starts_with("xmlns:")) continue;
      if (data && name == "Name") {
        data_name = &value;
        continue;
      }
      const std::string& el = element.name;
      if (system && depth == 2) {
        if ((el == "Provider" && name == "EventSourceName") ||
            (el == "Correlation" && (name == "ActivityID" || name == "RelatedActivityID")) ||
            (el == "Execution" && (name == "ProcessID" || name == "ThreadID"))) {
          out.emplace_back(name, value);
          continue;
        }
        if (el == "TimeCreated" && name == "SystemTime") {
          out.emplace_back("TimeCreated", value);
          continue;
        }
      }
      out.emplace_back(el + "_" + name, value);
    }
  }

  for (const XmlElement& child : element.children) {
    flatten(child, depth + 1, depth == 0 ? child.name : section, out);
  }

  if (depth < 2 || !element.children.empty()) return;
  if (data) {
    out.emplace_back(data_name != nullptr ? *data_name : "Data", element.text);
    return;
  }
  // These System elements carry only attributes, and evtxexport prints them
  // empty (<Security/>) when the optional attributes are NULL.
  static const std::set<std::string> kAttributeOnly = {"Provider", "TimeCreated", "Correlation",
                                                       "Execution", "Security"};
  if (system && kAttributeOnly.count(element.name) != 0 && element.text.empty()) return;
  if (!element.attributes.empty() && element.text.empty()) return;
  out.emplace_back(element.name, element.text);
}

std::vector<Record> parse_evtxexport(const std::string& xml) {
  std::vector<Record> records;
  std::size_t pos = 0;
  while ((pos = xml.find("<Event", pos)) != std::string::npos) {
    XmlElement event;
    if (!parse_element(xml, pos, event)) break;
    Record record;
    flatten(event, 0, "", record);
    records.push_back(std::move(record));
  }
  return records;
}

// ---------------------------------------------------------------------------
// Normalisation of genuine formatting differences, applied to both sides.

bool is_hex_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

std::string normalise(std::string value) {
  // The reader trims trailing CR, LF and tab at ingest (sigscope's policy for
  // EVTX values); evtxexport keeps them.
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == '\t')) value.pop_back();
  // evtxexport pads hex integers to 8 or 16 digits (0x0000000001f4c65f);
  // the reader prints them unpadded as Event Viewer does (0x1f4c65f).
  if (value.size() > 2 && value.starts_with("0x") && is_hex_digits(value.substr(2))) {
    std::size_t first = value.find_first_not_of('0', 2);
    return first == std::string::npos ? "0x0" : "0x" + value.substr(first);
  }
  // evtxexport prints FILETIMEs with 9 fraction digits, the last two always
  // 0. The reader prints the 7 digits of FILETIME's 100 ns ticks.
  if (value.size() == 30 && value[4] == '-' && value[10] == 'T' && value[19] == '.' &&
      value.ends_with("00Z")) {
    return value.substr(0, 27) + "Z";
  }
  return value;
}

// evtxexport prints reals as %e with 6 fraction digits (3.199234e+003);
// the reader prints the shortest text that reads back as the same value
// (3199.234). Both are equal when they agree to evtxexport's precision.
bool same_real(const std::string& ours, const std::string& theirs) {
  if (theirs.find("e+") == std::string::npos && theirs.find("e-") == std::string::npos) {
    return false;
  }
  char* end = nullptr;
  double a = std::strtod(ours.c_str(), &end);
  if (end == ours.c_str() || *end != '\0') return false;
  double b = std::strtod(theirs.c_str(), &end);
  if (end == theirs.c_str() || *end != '\0') return false;
  return std::fabs(a - b) <= 1e-6 * std::max(std::fabs(a), std::fabs(b));
}

std::string describe(const Record& record, std::size_t index) {
  return index < record.size() ? record[index].first + "=[" + record[index].second + "]"
                               : "(no field)";
}

// Compares our reading of `file` with evtxexport's and appends failure
// descriptions (at most a few per file) to `failures`.
void compare_file(const fs::path& file, std::vector<std::string>& failures,
                  std::atomic<std::size_t>& records_compared) {
  std::string name = corpus_name(file);
  OurRead ours;
  read_ours(file, 1, ours);
  if (!ours.stats.opened || ours.diagnostics.error_count() != 0) {
    std::string message = name + ": our reader reported errors:";
    for (const Diagnostic& d : ours.diagnostics.items()) message += "\n  " + d.format();
    failures.push_back(message);
    return;
  }
  if (ours.records.size() != ours.stats.records) {
    failures.push_back(name + ": the sink saw " + std::to_string(ours.records.size()) +
                       " distinct record numbers for " + std::to_string(ours.stats.records) +
                       " records");
  }

  std::string xml;
  int status = run_evtxexport(file, xml);
  if (kEvtxExportFails.count(name) != 0) {
    if (status == 0) failures.push_back(name + ": listed as failing in evtxexport but it passed");
    if (ours.records.empty()) failures.push_back(name + ": our reader found no records");
    return;
  }
  if (status != 0) {
    failures.push_back(name + ": evtxexport failed with status " + std::to_string(status));
    return;
  }
  std::vector<Record> theirs = parse_evtxexport(xml);
  if (theirs.size() != ours.records.size()) {
    failures.push_back(name + ": " + std::to_string(ours.records.size()) +
                       " records, evtxexport has " + std::to_string(theirs.size()));
    return;
  }
  int reported = 0;
  for (std::size_t r = 0; r < theirs.size() && reported < 3; ++r) {
    const Record& a = ours.records[r];
    const Record& b = theirs[r];
    std::size_t count = std::max(a.size(), b.size());
    for (std::size_t f = 0; f < count; ++f) {
      bool same = f < a.size() && f < b.size() && a[f].first == b[f].first &&
                  (normalise(a[f].second) == normalise(b[f].second) ||
                   same_real(a[f].second, b[f].second));
      if (!same) {
        failures.push_back(name + ": record " + std::to_string(r + 1) + " field " +
                           std::to_string(f + 1) + ": ours " + describe(a, f) + ", evtxexport " +
                           describe(b, f));
        ++reported;
        break;
      }
    }
    ++records_compared;
  }
}

void compare_files(const std::vector<fs::path>& files) {
  std::vector<std::string> failures;
  std::atomic<std::size_t> compared{0};
  for (const fs::path& file : files) compare_file(file, failures, compared);
  std::string report;
  for (std::size_t i = 0; i < failures.size() && i < 40; ++i) report += failures[i] + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " mismatches, the first ones:\n" << report;
  std::printf("compared %zu records of %zu files with evtxexport\n", compared.load(), files.size());
}

#define SIGSCOPE_REQUIRE_EVTXEXPORT()                                                   \
  do {                                                                                  \
    if (!fs::exists(kEvtxExport))                                                       \
      GTEST_SKIP() << kEvtxExport << " not found; install the libevtx-utils package"; \
  } while (0)

TEST(EvtxCorpus, MatchesEvtxexportOnAllFiles) {
  SIGSCOPE_REQUIRE_SHARED();
  SIGSCOPE_REQUIRE_EVTXEXPORT();
  std::vector<fs::path> files = corpus_files();
  ASSERT_FALSE(files.empty()) << "no .evtx files under " << corpus_dir();
  compare_files(files);
}


// ---------------------------------------------------------------------------
// Damaged input, built by mutating a copy of a corpus file in a temp folder

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::uint32_t get_u32(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
         (static_cast<std::uint32_t>(bytes[offset + 3]) << 24);
}

void put_u32(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

bool any_message_contains(const DiagnosticList& diagnostics, std::string_view text) {
  return std::any_of(diagnostics.items().begin(), diagnostics.items().end(),
                     [&](const Diagnostic& d) { return d.message.find(text) != std::string::npos; });
}

class EvtxDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    SIGSCOPE_REQUIRE_SHARED();
    // The largest corpus file spans several chunks, which the tests need.
    std::uintmax_t best = 0;
    for (const fs::path& file : corpus_files()) {
      if (kEvtxExportFails.count(corpus_name(file)) != 0) continue;
      std::uintmax_t size = fs::file_size(file);
      if (size > best) {
        best = size;
        source_ = file;
      }
    }
    ASSERT_GT(best, kEvtxFileHeaderSize + 2 * kEvtxChunkSize) << "no multi-chunk corpus file";
    original_ = read_bytes(source_);
    dir_ = fs::temp_directory_path() / ("sigscope-evtx-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    read_ours(source_, 1, clean_);
    ASSERT_EQ(clean_.diagnostics.error_count(), 0u);
    ASSERT_GT(clean_.records.size(), 10u);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Writes `bytes` to a temp file and reads it with the reader.
  void read_mutated(const std::vector<std::uint8_t>& bytes, OurRead& out, unsigned threads = 1) {
    fs::path path = dir_ / "mutated.evtx";
    write_bytes(path, bytes);
    read_ours(path, threads, out);
  }

  // Returns the number of records the clean file has in chunk `index`.
  std::size_t clean_records_in_chunk(std::size_t index) {
    DiagnosticList diagnostics;
    auto file = EvtxFile::open(source_.string(), diagnostics);
    std::size_t end = index + 1 < file->chunk_count()
                          ? file->first_record_number(index + 1)
                          : file->framed_record_count() + 1;
    return end - file->first_record_number(index);
  }

  fs::path source_;
  fs::path dir_;
  std::vector<std::uint8_t> original_;
  OurRead clean_;
};

TEST_F(EvtxDamage, TruncatedFileKeepsWholeChunks) {
  std::size_t first_chunk = clean_records_in_chunk(0);
  std::vector<std::uint8_t> bytes(original_.begin(),
                                  original_.begin() + kEvtxFileHeaderSize + kEvtxChunkSize + 30000);
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_TRUE(result.stats.opened);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "chunk is truncated"));
  ASSERT_GE(result.records.size(), first_chunk);
  for (std::size_t i = 0; i < first_chunk; ++i) EXPECT_EQ(result.records[i], clean_.records[i]);
}

TEST_F(EvtxDamage, DamagedFileSignatureKeepsTheChunks) {
  // A file whose first 8 bytes were damaged was rejected whole although
  // every chunk was intact.
  std::vector<std::uint8_t> bytes = original_;
  std::memcpy(bytes.data(), "XXXXXXXX", 8);
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_TRUE(result.stats.opened);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "first chunk is valid"));
  EXPECT_EQ(result.records, clean_.records);
  EXPECT_TRUE(looks_like_evtx((dir_ / "mutated.evtx").string()));

  // Without a chunk after it, the file is still not EVTX.
  std::memcpy(bytes.data() + kEvtxFileHeaderSize, "XXXXXXXX", 8);
  OurRead neither;
  read_mutated(bytes, neither);
  EXPECT_FALSE(neither.stats.opened);
  EXPECT_FALSE(looks_like_evtx((dir_ / "mutated.evtx").string()));
}

TEST_F(EvtxDamage, TruncatedAtManySizesNeverFails) {
  std::mt19937 random(7);
  for (int round = 0; round < 60; ++round) {
    std::size_t size = std::uniform_int_distribution<std::size_t>(0, original_.size())(random);
    std::vector<std::uint8_t> bytes(original_.begin(), original_.begin() + size);
    OurRead result;
    read_mutated(bytes, result);
    if (size < kEvtxFileHeaderSize) {
      EXPECT_FALSE(result.stats.opened) << "size " << size;
      EXPECT_EQ(result.diagnostics.error_count(), 1u) << "size " << size;
      continue;
    }
    EXPECT_TRUE(result.stats.opened) << "size " << size;
    EXPECT_LE(result.records.size(), clean_.records.size()) << "size " << size;
    for (std::size_t i = 0; i < result.records.size(); ++i) {
      ASSERT_EQ(result.records[i], clean_.records[i]) << "size " << size << ", record " << i + 1;
    }
  }
}

TEST_F(EvtxDamage, ChunkHeaderChecksumMismatchWarns) {
  std::vector<std::uint8_t> bytes = original_;
  bytes[kEvtxFileHeaderSize + 124] ^= 0xff;  // stored header CRC32 of chunk 0
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "chunk header checksum mismatch"));
  EXPECT_EQ(result.diagnostics.error_count(), 0u);
  EXPECT_EQ(result.stats.checksum_errors, 1u);
  EXPECT_EQ(result.records, clean_.records);
}

TEST_F(EvtxDamage, RecordDataChecksumMismatchWarns) {
  std::vector<std::uint8_t> bytes = original_;
  bytes[kEvtxFileHeaderSize + 52] ^= 0x01;  // stored event records CRC32 of chunk 0
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "event records checksum mismatch"));
  EXPECT_EQ(result.diagnostics.error_count(), 0u);
  EXPECT_EQ(result.records, clean_.records);
}

TEST_F(EvtxDamage, FileHeaderChecksumMismatchWarns) {
  std::vector<std::uint8_t> bytes = original_;
  bytes[124] ^= 0xff;
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "file header checksum mismatch"));
  EXPECT_EQ(result.records, clean_.records);
}

TEST_F(EvtxDamage, RecordWithBadSizeIsSkipped) {
  // Record 3 of chunk 0: find it by walking the record sizes.
  std::size_t offset = kEvtxFileHeaderSize + kEvtxChunkHeaderSize;
  offset += get_u32(original_, offset + 4);
  offset += get_u32(original_, offset + 4);
  std::vector<std::uint8_t> bytes = original_;
  put_u32(bytes, offset + 4, 0x7fffffff);
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_EQ(result.diagnostics.error_count(), 1u);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "record has a bad size"));
  char location[32];
  std::snprintf(location, sizeof location, "offset %#zx", offset);
  EXPECT_TRUE(any_message_contains(result.diagnostics, location)) << location;
  EXPECT_EQ(result.stats.skipped_records, 1u);
  ASSERT_EQ(result.records.size(), clean_.records.size() - 1);
  EXPECT_EQ(result.records[1], clean_.records[1]);
  EXPECT_EQ(result.records[2], clean_.records[3]);
  EXPECT_EQ(result.records.back(), clean_.records.back());
}

TEST_F(EvtxDamage, BadChunkSignatureSkipsChunk) {
  std::vector<std::uint8_t> bytes = original_;
  bytes[kEvtxFileHeaderSize + kEvtxChunkSize] = 'X';  // chunk 1
  OurRead result;
  read_mutated(bytes, result);
  EXPECT_EQ(result.stats.bad_chunks, 1u);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "chunk 1 at offset 0x11000"));
  EXPECT_EQ(result.records.size(), clean_.records.size() - clean_records_in_chunk(1));
}

TEST_F(EvtxDamage, RandomBytesNeverCrash) {
  // Overwrites random stretches of the chunk data (headers kept or not)
  // and only requires that reading finishes. The test timeout catches loops.
  std::mt19937 random(20250805);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::uint8_t> bytes = original_;
    int stretches = std::uniform_int_distribution<int>(1, 20)(random);
    for (int s = 0; s < stretches; ++s) {
      std::size_t length = std::uniform_int_distribution<std::size_t>(1, 64)(random);
      std::size_t at = std::uniform_int_distribution<std::size_t>(
          kEvtxFileHeaderSize, bytes.size() - length)(random);
      for (std::size_t i = 0; i < length; ++i) bytes[at + i] = static_cast<std::uint8_t>(random());
    }
    OurRead result;
    read_mutated(bytes, result, round % 2 + 1);
    EXPECT_TRUE(result.stats.opened);
    EXPECT_LE(result.stats.records, clean_.records.size() + 64) << "round " << round;
  }
}

TEST_F(EvtxDamage, RandomChunkBodiesNeverCrash) {
  // Keeps valid file and chunk signatures but fills each chunk from byte 128
  // on (string and template tables, records) with random bytes, so the
  // Binary XML decoder receives garbage.
  std::mt19937 random(99);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::uint8_t> bytes = original_;
    for (std::size_t chunk = kEvtxFileHeaderSize; chunk + kEvtxChunkSize <= bytes.size();
         chunk += kEvtxChunkSize) {
      for (std::size_t i = chunk + 128; i < chunk + kEvtxChunkSize; ++i) {
        bytes[i] = static_cast<std::uint8_t>(random());
      }
    }
    OurRead result;
    read_mutated(bytes, result);
    EXPECT_TRUE(result.stats.opened);
  }
}

TEST_F(EvtxDamage, RandomRecordBytesNeverCrash) {
  // Flips single bytes inside the Binary XML of records, keeping the frame,
  // so that template offsets, sizes and tokens go wrong one at a time.
  std::mt19937 random(1234);
  std::size_t record = kEvtxFileHeaderSize + kEvtxChunkHeaderSize;
  std::uint32_t size = get_u32(original_, record + 4);
  for (int round = 0; round < 400; ++round) {
    std::vector<std::uint8_t> bytes = original_;
    std::size_t at = std::uniform_int_distribution<std::size_t>(record + 24, record + size - 5)(random);
    bytes[at] = static_cast<std::uint8_t>(random());
    OurRead result;
    read_mutated(bytes, result);
    EXPECT_GE(result.records.size() + result.stats.skipped_records, clean_.records.size() - 1)
        << "round " << round;
  }
}

TEST(EvtxText, Utf16ToUtf8AtEveryPosition) {
  // UTF-16 text is converted sixteen ASCII units at a time. A non-ASCII unit,
  // a surrogate pair or an unpaired surrogate at any position, in text of any
  // length, must come out as one unit at a time would give it.
  struct Special {
    std::vector<std::uint16_t> units;
    std::string utf8;
  };
  const std::vector<Special> specials = {
      {{0x00e9}, "\xc3\xa9"},                 // é
      {{0x20ac}, "\xe2\x82\xac"},             // €
      {{0xd83d, 0xde00}, "\xf0\x9f\x98\x80"},  // U+1F600, a surrogate pair
      {{0xd800}, "\xef\xbf\xbd"},             // an unpaired surrogate becomes U+FFFD
      {{0x0080}, "\xc2\x80"},
  };
  for (std::size_t length = 0; length <= 40; ++length) {
    for (const Special& special : specials) {
      for (std::size_t at = 0; at <= length; ++at) {
        std::vector<std::uint16_t> units;
        std::string expected;
        for (std::size_t k = 0; k < length; ++k) {
          if (k == at) {
            units.insert(units.end(), special.units.begin(), special.units.end());
            expected += special.utf8;
          }
          const char c = static_cast<char>('a' + k % 26);
          units.push_back(static_cast<std::uint16_t>(c));
          expected += c;
        }
        std::vector<std::uint8_t> bytes;
        for (std::uint16_t u : units) {
          bytes.push_back(static_cast<std::uint8_t>(u & 0xff));
          bytes.push_back(static_cast<std::uint8_t>(u >> 8));
        }
        evtx::TextBuffer out;
        out.append("x");
        evtx::append_utf16(out, bytes.data(), units.size());
        ASSERT_EQ(std::string(out.data(), out.size()), "x" + expected)
            << "length " << length << ", special " << special.utf8.size() << " bytes at " << at;
      }
    }
  }
}

TEST(EvtxCrc32, EqualsZlibCrc32) {
  // The EVTX checksums moved from zlib's crc32 to ISA-L's: both must give the
  // same value for any length and alignment, whole or continued.
  std::mt19937 rng(7);
  std::vector<std::uint8_t> data(70000);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  for (std::size_t size : {0u, 1u, 7u, 15u, 16u, 63u, 64u, 65u, 120u, 511u, 4096u, 65536u, 69999u}) {
    for (std::size_t offset : {0u, 1u, 3u}) {
      if (offset + size > data.size()) continue;
      const std::uint8_t* p = data.data() + offset;
      const auto expected = static_cast<std::uint32_t>(::crc32(0L, p, static_cast<uInt>(size)));
      EXPECT_EQ(evtx_crc32(0, p, size), expected) << "size " << size << " offset " << offset;
      const std::size_t half = size / 2;
      EXPECT_EQ(evtx_crc32(evtx_crc32(0, p, half), p + half, size - half), expected)
          << "size " << size << " offset " << offset << ", in two parts";
    }
  }
}

TEST(EvtxFileOpen, RejectsNonEvtxFiles) {
  fs::path path = fs::temp_directory_path() / ("sigscope-not-evtx-" + std::to_string(::getpid()));
  std::vector<std::uint8_t> text(8192, 'a');
  write_bytes(path, text);
  DiagnosticList diagnostics;
  EXPECT_FALSE(EvtxFile::open(path.string(), diagnostics).has_value());
  EXPECT_TRUE(any_message_contains(diagnostics, "ElfFile"));
  fs::remove(path);

  DiagnosticList missing;
  EXPECT_FALSE(EvtxFile::open("/nonexistent/file.evtx", missing).has_value());
  EXPECT_EQ(missing.error_count(), 1u);

  DiagnosticList folder;
  EXPECT_FALSE(EvtxFile::open(fs::temp_directory_path().string(), folder).has_value());
  EXPECT_TRUE(any_message_contains(folder, "not a regular file"));
}

// ---------------------------------------------------------------------------
// API behaviour

TEST(EvtxReader, ChunkParserNumbersRecordsInFileOrder) {
  SIGSCOPE_REQUIRE_SHARED();
  std::vector<fs::path> files = corpus_files();
  ASSERT_FALSE(files.empty());
  DiagnosticList diagnostics;
  auto file = EvtxFile::open(files.front().string(), diagnostics);
  ASSERT_TRUE(file.has_value());
  EvtxChunkParser parser;
  std::uint64_t expected = 1;
  std::uint64_t last_offset = 0;
  for (std::size_t i = 0; i < file->chunk_count(); ++i) {
    parser.parse_chunk(*file, i, [&](const RawEvent& event) {
      EXPECT_EQ(event.record, expected++);
      EXPECT_GT(event.source_offset, last_offset);
      last_offset = event.source_offset;
      std::string_view time_created;
      for (const FieldValue& field : event.fields) {
        if (field.name == "TimeCreated") time_created = field.value;
      }
      EXPECT_EQ(event.timestamp, time_created);
      EXPECT_EQ(event.timestamp.size(), 28u) << event.timestamp;
    }, diagnostics);
  }
  EXPECT_EQ(expected - 1, file->framed_record_count());
  EXPECT_TRUE(diagnostics.empty());
}

TEST(EvtxReader, ThreadCountDoesNotChangeRecords) {
  SIGSCOPE_REQUIRE_SHARED();
  std::vector<fs::path> files = corpus_files();
  fs::path largest = *std::max_element(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return fs::file_size(a) < fs::file_size(b);
  });
  OurRead single;
  OurRead parallel;
  read_ours(largest, 1, single);
  read_ours(largest, 2, parallel);
  EXPECT_EQ(single.records, parallel.records);
  std::sort(parallel.numbers.begin(), parallel.numbers.end());
  EXPECT_EQ(single.numbers, parallel.numbers);
}

TEST(EvtxReader, SinkExceptionIsRethrown) {
  SIGSCOPE_REQUIRE_SHARED();
  std::vector<fs::path> files = corpus_files();
  ASSERT_FALSE(files.empty());
  DiagnosticList diagnostics;
  EXPECT_THROW(read_evtx_file(files.front().string(), 2,
                              [](const RawEvent&, unsigned) { throw std::runtime_error("stop"); },
                              diagnostics),
               std::runtime_error);
}

TEST(EvtxReader, FieldTypesFollowValueTypes) {
  SIGSCOPE_REQUIRE_SHARED();
  fs::path file = corpus_dir() / "evtx/hayabusa-sample-evtx/YamatoSecurity/LateralMovement/T1563.002_RDP-Hijacking_Security.evtx";
  if (!fs::exists(file)) GTEST_SKIP() << file << " not in the corpus";
  OurRead result;
  DiagnosticList diagnostics;
  std::map<std::string, ValueType> types;
  read_evtx_file(file.string(), 1, [&](const RawEvent& event, unsigned) {
    for (const FieldValue& field : event.fields) types[std::string(field.name)] = field.type;
  }, diagnostics);
  EXPECT_EQ(types["EventID"], ValueType::Number);
  EXPECT_EQ(types["ProcessID"], ValueType::Number);
  EXPECT_EQ(types["Channel"], ValueType::String);
  EXPECT_EQ(types["Keywords"], ValueType::String);
  EXPECT_EQ(types["TimeCreated"], ValueType::String);
}

TEST(EvtxReader, TrailingLineBreaksAndTabsTrimmed) {
  SIGSCOPE_REQUIRE_SHARED();
  // Security 4661 renders AccessList as "...%%4424\r\n\t\t\t\t".
  fs::path file = corpus_dir() / "evtx/EVTX-ATTACK-SAMPLES/Discovery/discovery_bloodhound.evtx";
  if (!fs::exists(file)) GTEST_SKIP() << file << " not in the corpus";
  DiagnosticList diagnostics;
  std::size_t access_lists = 0, untrimmed = 0;
  read_evtx_file(file.string(), 1, [&](const RawEvent& event, unsigned) {
    for (const FieldValue& field : event.fields) {
      if (!field.value.empty() && (field.value.back() == '\r' || field.value.back() == '\n' || field.value.back() == '\t'))
        ++untrimmed;
      if (field.name == "AccessList" && field.value.ends_with("%%4424")) ++access_lists;
    }
  }, diagnostics);
  EXPECT_EQ(untrimmed, 0u);
  EXPECT_GT(access_lists, 0u);
}

TEST(EvtxReader, NoAllocationAfterWarmUp) {
  SIGSCOPE_REQUIRE_SHARED();
  std::vector<fs::path> files = corpus_files();
  ASSERT_FALSE(files.empty());
  DiagnosticList diagnostics;
  std::vector<EvtxFile> opened;
  for (const fs::path& path : files) {
    if (auto file = EvtxFile::open(path.string(), diagnostics)) opened.push_back(std::move(*file));
  }
  EvtxChunkParser parser;
  std::size_t records = 0;
  std::function<void(const RawEvent&)> sink = [&](const RawEvent& event) {
    records += event.fields.empty() ? 0 : 1;
  };
  auto parse_all = [&] {
    for (const EvtxFile& file : opened) {
      for (std::size_t i = 0; i < file.chunk_count(); ++i) {
        parser.parse_chunk(file, i, sink, diagnostics);
      }
    }
  };
  parse_all();  // grows the buffers to fit the largest record and template
  std::size_t warm_records = records;
  g_allocations = 0;
  g_count_allocations = true;
  parse_all();
  g_count_allocations = false;
  EXPECT_EQ(records, 2 * warm_records);
  EXPECT_EQ(g_allocations.load(), 0u);
  EXPECT_EQ(diagnostics.error_count(), 0u);
}

// ---------------------------------------------------------------------------
// Hand-built Binary XML, for tokens and value types the corpus lacks

// Builds a one-chunk EVTX file token by token. Names are always written
// inline, so each name offset points right after itself.
class EvtxBuilder {
 public:
  EvtxBuilder() : chunk_(kEvtxChunkSize, 0) {}

  void begin_record() {
    record_ = pos_;
    u32(0x00002a2a);
    u32(0);                       // size, patched by end_record()
    u64(++record_id_);            // event record id
    u64(132539328000000000ULL);   // written time: 2021-01-01T00:00:00Z
  }
  void end_record() {
    u32(0);
    std::uint32_t size = pos_ - record_;
    put(record_ + 4, size);
    put(pos_ - 4, size);
  }

  void fragment_header() { bytes({0x0f, 0x01, 0x01, 0x00}); }
  void end_of_fragment() { u8(0x00); }
  // Open start element; `in_template` adds the dependency id templates carry.
  void open(const std::string& name, bool attributes = false, bool in_template = false) {
    u8(attributes ? 0x41 : 0x01);
    if (in_template) u16(0xffff);
    u32(0);  // data size, unused by the reader
    name_reference(name);
    if (attributes) u32(0);  // attribute list size, unused by the reader
  }
  void attribute(const std::string& name) {
    u8(0x06);
    name_reference(name);
  }
  void close_start() { u8(0x02); }
  void close_empty() { u8(0x03); }
  void end_element() { u8(0x04); }
  void text(const std::string& ascii) {
    bytes({0x05, 0x01});
    u16(static_cast<std::uint16_t>(ascii.size()));
    for (char c : ascii) u16(static_cast<std::uint8_t>(c));
  }
  void cdata(const std::string& ascii) {
    u8(0x07);
    u16(static_cast<std::uint16_t>(ascii.size()));
    for (char c : ascii) u16(static_cast<std::uint8_t>(c));
  }
  void char_ref(std::uint16_t code_point) {
    u8(0x08);
    u16(code_point);
  }
  void entity_ref(const std::string& name) {
    u8(0x09);
    name_reference(name);
  }
  void processing_instruction(const std::string& target, const std::string& data) {
    u8(0x0a);
    name_reference(target);
    u8(0x0b);
    u16(static_cast<std::uint16_t>(data.size()));
    for (char c : data) u16(static_cast<std::uint8_t>(c));
  }
  void substitution(std::uint16_t index, std::uint8_t type, bool optional = false) {
    u8(optional ? 0x0e : 0x0d);
    u16(index);
    u8(type);
  }

  // Starts a template instance whose definition follows inline; returns the
  // definition offset for end_template_definition() and later references.
  std::uint32_t begin_template_definition() {
    u8(0x0c);
    u8(0x01);
    u32(0x1234);  // template id
    std::uint32_t definition = pos_ + 4;
    u32(definition);
    u32(0);  // next definition offset
    for (int i = 0; i < 16; ++i) u8(0);  // GUID
    u32(0);  // data size, patched by end_template_definition()
    return definition;
  }
  void end_template_definition(std::uint32_t definition) {
    put(definition + 20, pos_ - (definition + 24));
  }
  // A template instance that refers to a definition stored earlier.
  void template_reference(std::uint32_t definition) {
    u8(0x0c);
    u8(0x01);
    u32(0x1234);
    u32(definition);
  }
  // Writes the value table and data of a template instance.
  void values(const std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>>& list) {
    u32(static_cast<std::uint32_t>(list.size()));
    for (const auto& [type, data] : list) {
      u16(static_cast<std::uint16_t>(data.size()));
      u8(type);
      u8(0);
    }
    for (const auto& [type, data] : list) bytes(data);
  }

  void u8(std::uint8_t v) { chunk_.at(pos_++) = v; }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v));
    u8(static_cast<std::uint8_t>(v >> 8));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v));
    u16(static_cast<std::uint16_t>(v >> 16));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v));
    u32(static_cast<std::uint32_t>(v >> 32));
  }
  void bytes(const std::vector<std::uint8_t>& data) {
    for (std::uint8_t b : data) u8(b);
  }
  std::uint32_t position() const { return pos_; }

  // Returns the whole file: file header, then the chunk with valid checksums.
  std::vector<std::uint8_t> file() {
    std::vector<std::uint8_t> chunk = chunk_;
    std::memcpy(chunk.data(), "ElfChnk", 8);
    put_u32(chunk, 40, 128);
    put_u32(chunk, 44, record_);
    put_u32(chunk, 48, pos_);
    put_u32(chunk, 52, static_cast<std::uint32_t>(::crc32(0, chunk.data() + 512, pos_ - 512)));
    std::uint32_t crc = static_cast<std::uint32_t>(::crc32(0, chunk.data(), 120));
    crc = static_cast<std::uint32_t>(::crc32(crc, chunk.data() + 128, 384));
    put_u32(chunk, 124, crc);

    std::vector<std::uint8_t> out(kEvtxFileHeaderSize, 0);
    std::memcpy(out.data(), "ElfFile", 8);
    put_u32(out, 32, 128);
    out[36] = 1;  // minor version
    out[38] = 3;  // major version
    out[40] = 0x00;
    out[41] = 0x10;  // header block size 4096
    out[42] = 1;     // chunk count
    put_u32(out, 124, static_cast<std::uint32_t>(::crc32(0, out.data(), 120)));
    out.insert(out.end(), chunk.begin(), chunk.end());
    return out;
  }

 private:
  void name_reference(const std::string& name) {
    u32(pos_ + 4);
    u32(0);  // next name offset
    u16(0);  // hash, unused by the reader
    u16(static_cast<std::uint16_t>(name.size()));
    for (char c : name) u16(static_cast<std::uint8_t>(c));
    u16(0);
  }
  void put(std::uint32_t offset, std::uint32_t v) { put_u32(chunk_, offset, v); }

  std::vector<std::uint8_t> chunk_;
  std::uint32_t pos_ = kEvtxChunkHeaderSize;
  std::uint32_t record_ = 0;
  std::uint64_t record_id_ = 0;
};

std::vector<std::uint8_t> utf16(const std::string& ascii) {
  std::vector<std::uint8_t> out;
  for (char c : ascii) {
    out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
  }
  return out;
}

template <typename T>
std::vector<std::uint8_t> little_endian(T value) {
  std::vector<std::uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

// Writes `bytes` to a temp file and reads it into `result`.
void read_built(const std::vector<std::uint8_t>& bytes, OurRead& result) {
  fs::path path = fs::temp_directory_path() / ("sigscope-built-" + std::to_string(::getpid()) + ".evtx");
  write_bytes(path, bytes);
  read_ours(path, 1, result);
  fs::remove(path);
}

// Sets the size of the template value whose descriptor starts at chunk
// offset `descriptor`. The chunk checksum then mismatches, which only adds
// a warning.
void patch_value_size(std::vector<std::uint8_t>& file, std::uint32_t descriptor,
                      std::uint32_t size) {
  file[kEvtxFileHeaderSize + descriptor] = static_cast<std::uint8_t>(size);
  file[kEvtxFileHeaderSize + descriptor + 1] = static_cast<std::uint8_t>(size >> 8);
}

std::vector<std::string> values_of(const Record& record, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [field, value] : record) {
    if (field == name) out.push_back(value);
  }
  return out;
}

using Values = std::vector<std::string>;

TEST(EvtxBinXml, RecordWithoutTemplateDecodesAllTokens) {
  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  b.open("Event");
  b.close_start();
  b.open("System");
  b.close_start();
  b.open("Provider", true);
  b.attribute("Name");
  b.text("Prov");
  b.close_empty();
  b.open("EventID");
  b.close_start();
  b.text("4624");
  b.end_element();
  b.end_element();  // System
  b.open("EventData");
  b.close_start();
  b.open("Data", true);
  b.attribute("Name");
  b.text("Mixed");
  b.close_start();
  b.text("a");
  b.entity_ref("amp");
  b.char_ref(0x41);
  b.cdata("<c>");
  b.entity_ref("lt");
  b.end_element();
  b.processing_instruction("target", "data");
  b.open("Data");
  b.close_start();
  b.text("unnamed");
  b.end_element();
  b.open("Data");
  b.close_empty();
  b.end_element();  // EventData
  b.end_element();  // Event
  b.end_of_fragment();
  b.end_record();

  OurRead result;
  read_built(b.file(), result);
  EXPECT_TRUE(result.diagnostics.empty());
  ASSERT_EQ(result.records.size(), 1u);
  const Record& record = result.records[0];
  EXPECT_EQ(values_of(record, "Provider_Name"), Values{"Prov"});
  EXPECT_EQ(values_of(record, "EventID"), Values{"4624"});
  EXPECT_EQ(values_of(record, "Mixed"), Values{"a&A<c><"});
  EXPECT_EQ(values_of(record, "Data"), (Values{"unnamed", ""}));
  EXPECT_EQ(record.size(), 5u);
  // Without System/TimeCreated the timestamp is the record's written time.
  EXPECT_EQ(result.timestamps[0], "2021-01-01T00:00:00.0000000Z");
}

TEST(EvtxBinXml, SubstitutionValueTypes) {
  using Value = std::pair<std::uint8_t, std::vector<std::uint8_t>>;
  std::vector<Value> values = {
      {0x01, utf16("text")},
      {0x02, {'a', 'b', 0x80, 0}},
      {0x03, {0xfb}},
      {0x0a, little_endian<std::uint64_t>(18446744073709551615ULL)},
      {0x0c, little_endian<double>(1.5)},
      {0x0d, little_endian<std::uint32_t>(1)},
      {0x0e, {0xde, 0xad}},
      {0x0f, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
      {0x11, little_endian<std::uint64_t>(132539328000000000ULL + 1234567)},
      {0x12, {0xe5, 0x07, 1, 0, 5, 0, 2, 0, 3, 0, 4, 0, 5, 0, 0xa6, 0x02}},
      {0x13, {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}},
      {0x14, little_endian<std::uint32_t>(0x3e7)},
      {0x15, little_endian<std::uint64_t>(0)},
      {0x81, {'a', 0, 0, 0, 0, 0, 'b', 0, 'c', 0, 0, 0}},
      {0x86, {1, 0, 2, 0, 3, 0}},
      {0x00, {}},  // NULL for an optional substitution: element left out
      {0x00, {}},  // NULL for a normal substitution: empty value
      {0x10, little_endian<std::uint64_t>(0x7ff6)},
      {0x07, little_endian<std::int32_t>(-2)},
  };
  static const char* const kNames[] = {"String", "Ansi",   "Int8",    "UInt64", "Real64",
                                       "Bool",   "Binary", "Guid",    "FileTime", "SysTime",
                                       "Sid",    "Hex32",  "Hex64",   "Strings", "UInt16s",
                                       "Optional", "Null", "SizeT",   "Int32"};

  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  std::uint32_t definition = b.begin_template_definition();
  b.fragment_header();
  b.open("Event", false, true);
  b.close_start();
  b.open("System", false, true);
  b.close_start();
  b.open("Correlation", true, true);
  b.attribute("ActivityID");
  b.substitution(15, 0x0f, true);  // NULL: the attribute is left out
  b.close_empty();
  b.end_element();
  b.open("EventData", false, true);
  b.close_start();
  for (std::uint16_t i = 0; i < values.size(); ++i) {
    b.open("Data", true, true);
    b.attribute("Name");
    b.text(kNames[i]);
    b.close_start();
    b.substitution(i, values[i].first, i == 15);
    b.end_element();
  }
  b.end_element();  // EventData
  b.end_element();  // Event
  b.end_of_fragment();
  b.end_template_definition(definition);
  b.values(values);
  b.end_of_fragment();
  b.end_record();

  OurRead result;
  read_built(b.file(), result);
  EXPECT_TRUE(result.diagnostics.empty());
  ASSERT_EQ(result.records.size(), 1u);
  const Record& record = result.records[0];
  EXPECT_EQ(values_of(record, "String"), Values{"text"});
  EXPECT_EQ(values_of(record, "Ansi"), Values{"ab\xe2\x82\xac"});
  EXPECT_EQ(values_of(record, "Int8"), Values{"-5"});
  EXPECT_EQ(values_of(record, "UInt64"), Values{"18446744073709551615"});
  EXPECT_EQ(values_of(record, "Real64"), Values{"1.5"});
  EXPECT_EQ(values_of(record, "Bool"), Values{"true"});
  EXPECT_EQ(values_of(record, "Binary"), Values{"DEAD"});
  EXPECT_EQ(values_of(record, "Guid"), Values{"{03020100-0504-0706-0809-0A0B0C0D0E0F}"});
  EXPECT_EQ(values_of(record, "FileTime"), Values{"2021-01-01T00:00:00.1234567Z"});
  EXPECT_EQ(values_of(record, "SysTime"), Values{"2021-01-02T03:04:05.6780000Z"});
  EXPECT_EQ(values_of(record, "Sid"), Values{"S-1-5-18"});
  EXPECT_EQ(values_of(record, "Hex32"), Values{"0x3e7"});
  EXPECT_EQ(values_of(record, "Hex64"), Values{"0x0"});
  EXPECT_EQ(values_of(record, "Strings"), (Values{"a", "", "bc"}));
  EXPECT_EQ(values_of(record, "UInt16s"), (Values{"1", "2", "3"}));
  EXPECT_EQ(values_of(record, "Optional"), Values{});
  EXPECT_EQ(values_of(record, "Null"), Values{""});
  EXPECT_EQ(values_of(record, "SizeT"), Values{"0x7ff6"});
  EXPECT_EQ(values_of(record, "Int32"), Values{"-2"});
  EXPECT_EQ(values_of(record, "ActivityID"), Values{});
}

TEST(EvtxBinXml, NestedBinXmlValueBecomesFields) {
  // A UserData payload passed as a Binary XML (0x21) substitution value.
  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  std::uint32_t definition = b.begin_template_definition();
  b.fragment_header();
  b.open("Event", false, true);
  b.close_start();
  b.open("UserData", false, true);
  b.close_start();
  b.substitution(0, 0x21);
  b.end_element();
  b.end_element();
  b.end_of_fragment();
  b.end_template_definition(definition);
  // Value table with one Binary XML value, whose tokens follow directly.
  b.u32(1);
  std::uint32_t descriptor = b.position();
  b.u16(0);
  b.u8(0x21);
  b.u8(0);
  std::uint32_t start = b.position();
  b.open("LogFileCleared", true);
  b.attribute("xmlns");
  b.text("http://example");
  b.attribute("Mode");
  b.text("full");
  b.close_start();
  b.open("SubjectUserName");
  b.close_start();
  b.text("admin");
  b.end_element();
  b.open("BackupPath");
  b.close_empty();
  b.end_element();
  std::uint32_t size = b.position() - start;
  b.end_of_fragment();
  b.end_record();
  std::vector<std::uint8_t> file = b.file();
  patch_value_size(file, descriptor, size);

  OurRead result;
  read_built(file, result);
  EXPECT_EQ(result.diagnostics.error_count(), 0u);
  ASSERT_EQ(result.records.size(), 1u);
  const Record& record = result.records[0];
  EXPECT_EQ(values_of(record, "SubjectUserName"), Values{"admin"});
  EXPECT_EQ(values_of(record, "BackupPath"), Values{""});
  EXPECT_EQ(values_of(record, "LogFileCleared_Mode"), Values{"full"});
  EXPECT_EQ(values_of(record, "LogFileCleared_xmlns"), Values{});
  EXPECT_EQ(record.size(), 3u);
}

TEST(EvtxBinXml, SelfReferencingTemplateIsRejected) {
  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  std::uint32_t definition = b.begin_template_definition();
  b.fragment_header();
  b.open("Event", false, true);
  b.close_start();
  b.template_reference(definition);  // the definition contains itself
  b.values({});
  b.end_element();
  b.end_of_fragment();
  b.end_template_definition(definition);
  b.values({});
  b.end_of_fragment();
  b.end_record();

  OurRead result;
  read_built(b.file(), result);
  EXPECT_TRUE(result.records.empty());
  EXPECT_EQ(result.stats.skipped_records, 1u);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "contains an instance of itself"));
}

TEST(EvtxBinXml, DeepNestingIsRejected) {
  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  for (int i = 0; i < 100; ++i) {
    b.open("E");
    b.close_start();
  }
  for (int i = 0; i < 100; ++i) b.end_element();
  b.end_of_fragment();
  b.end_record();

  OurRead result;
  read_built(b.file(), result);
  EXPECT_TRUE(result.records.empty());
  EXPECT_TRUE(any_message_contains(result.diagnostics, "nested too deeply"));
}

TEST(EvtxBinXml, ExponentialExpansionIsRejected) {
  // Template A uses value 0 (Binary XML) 3000 times. That value is an
  // instance of template B, which uses its string value 3000 times, so
  // the record would expand to 9 million strings.
  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  std::uint32_t outer = b.begin_template_definition();
  b.fragment_header();
  b.open("Event", false, true);
  b.close_start();
  for (int i = 0; i < 3000; ++i) b.substitution(0, 0x21);
  b.end_element();
  b.end_of_fragment();
  b.end_template_definition(outer);
  b.u32(1);
  std::uint32_t descriptor = b.position();
  b.u16(0);
  b.u8(0x21);
  b.u8(0);
  std::uint32_t start = b.position();
  std::uint32_t inner = b.begin_template_definition();
  b.fragment_header();
  b.open("Inner", false, true);
  b.close_start();
  for (int i = 0; i < 3000; ++i) b.substitution(0, 0x01);
  b.end_element();
  b.end_of_fragment();
  b.end_template_definition(inner);
  b.values({{0x01, utf16("value")}});
  std::uint32_t size = b.position() - start;
  b.end_of_fragment();
  b.end_record();
  std::vector<std::uint8_t> file = b.file();
  patch_value_size(file, descriptor, size);

  auto started = std::chrono::steady_clock::now();
  OurRead result;
  read_built(file, result);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_TRUE(result.records.empty());
  EXPECT_TRUE(any_message_contains(result.diagnostics, "expands to too much data"));
  EXPECT_LT(seconds, 2.0);
}


// ---------------------------------------------------------------------------
// Hostile inputs

// A rule that fires on every Windows event.
const char* kAnyEventRule = R"(title: Any event
id: 2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091
level: low
logsource:
  product: windows
detection:
  selection:
    EventRecordID|exists: true
  condition: selection
)";

TEST_F(EvtxDamage, LoopingTemplateOffsetIsRejected) {
  // The first record of a real file starts with a fragment header and a
  // template instance whose definition follows inline. The definition's
  // first element is overwritten with an instance of the definition itself.
  std::vector<std::uint8_t> bytes = original_;
  const std::size_t chunk = kEvtxFileHeaderSize;
  const std::size_t binxml = chunk + kEvtxChunkHeaderSize + 24;
  ASSERT_EQ(bytes[binxml], 0x0f) << "the first record does not start with a fragment header";
  ASSERT_EQ(bytes[binxml + 4], 0x0c) << "the first record does not start with a template instance";
  std::uint32_t definition = 0;
  std::memcpy(&definition, &bytes[binxml + 4 + 6], 4);
  ASSERT_EQ(definition, kEvtxChunkHeaderSize + 24 + 4 + 10) << "the template definition is not inline";
  std::size_t body = chunk + definition + 24 + 4;  // after the definition header and its fragment header
  const std::uint8_t loop[10] = {0x0c, 0x01, 0, 0, 0, 0, static_cast<std::uint8_t>(definition),
                                 static_cast<std::uint8_t>(definition >> 8), 0, 0};
  std::memcpy(&bytes[body], loop, sizeof loop);

  OurRead result;
  auto started = std::chrono::steady_clock::now();
  read_mutated(bytes, result);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(seconds, 5.0);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "contains an instance of itself"));
  EXPECT_TRUE(any_message_contains(result.diagnostics, "chunk 0 at offset 0x1000: record 1"));
  EXPECT_GE(result.stats.skipped_records, 1u);
  // Records of the other chunks use their own template tables and are all read.
  std::size_t first_chunk = clean_records_in_chunk(0);
  EXPECT_GE(result.records.size(), clean_.records.size() - first_chunk);
  EXPECT_EQ(result.records.size() + result.stats.skipped_records, clean_.records.size());
}

TEST_F(EvtxDamage, TruncatedChunkIsCountedInTheHuntSummary) {
  std::vector<std::uint8_t> bytes(original_.begin(),
                                  original_.begin() + kEvtxFileHeaderSize + kEvtxChunkSize + 30000);
  fs::path path = dir_ / "truncated.evtx";
  write_bytes(path, bytes);
  fs::path rules = dir_ / "rule.yml";
  write_bytes(rules, std::vector<std::uint8_t>(kAnyEventRule, kAnyEventRule + std::strlen(kAnyEventRule)));
  auto r = testing::run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", "-q", path.string()});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.err;
  auto verbose = testing::run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", path.string()});
  EXPECT_NE(verbose.err.find("chunk is truncated"), std::string::npos) << verbose.err;
  EXPECT_NE(verbose.err.find("truncated EVTX chunk: 1"), std::string::npos) << verbose.err;
}

TEST_F(EvtxDamage, ChecksumMismatchIsCountedInTheHuntSummary) {
  std::vector<std::uint8_t> bytes = original_;
  bytes[kEvtxFileHeaderSize + 124] ^= 0xff;  // stored header CRC32 of chunk 0
  fs::path path = dir_ / "checksum.evtx";
  write_bytes(path, bytes);
  fs::path rules = dir_ / "rule.yml";
  write_bytes(rules, std::vector<std::uint8_t>(kAnyEventRule, kAnyEventRule + std::strlen(kAnyEventRule)));
  auto r = testing::run_cli({"hunt", "-r", rules.string(), "-f", "jsonl", path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // every record is still read
  EXPECT_NE(r.err.find("chunk 0 at offset 0x1000: chunk header checksum mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("EVTX checksum mismatch: 1"), std::string::npos) << r.err;
}

// Returns the hunt's JSON lines with their "input" field taken out, so runs
// over the same events from different files compare equal.
std::vector<std::string> detections_without_input(const std::string& out) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const std::size_t end = std::min(out.find('\n', pos), out.size());
    std::string line = out.substr(pos, end - pos);
    const std::size_t field = line.find("\"input\":\"");
    if (field != std::string::npos) line.erase(field, line.find("\",", field + 9) + 2 - field);
    lines.push_back(std::move(line));
    pos = end + 1;
  }
  return lines;
}

class EvtxStream : public EvtxDamage {
 protected:
  // Writes a file of the corpus file's header and its whole chunks repeated
  // to `chunks` chunks, and returns its path.
  fs::path write_repeated(const std::string& name, std::size_t chunks) {
    const std::size_t whole = (original_.size() - kEvtxFileHeaderSize) / kEvtxChunkSize;
    std::vector<std::uint8_t> bytes(original_.begin(), original_.begin() + kEvtxFileHeaderSize);
    for (std::size_t c = 0; c < chunks; ++c) {
      const auto begin = original_.begin() + static_cast<std::ptrdiff_t>(kEvtxFileHeaderSize + (c % whole) * kEvtxChunkSize);
      bytes.insert(bytes.end(), begin, begin + static_cast<std::ptrdiff_t>(kEvtxChunkSize));
    }
    fs::path path = dir_ / name;
    write_bytes(path, bytes);
    return path;
  }
  // Compresses `path` with `compressor` ("gzip" or "zstd -q") into `path` + `suffix`.
  fs::path compress(const fs::path& path, const std::string& compressor, const std::string& suffix) {
    fs::path out = path.string() + suffix;
    const std::string command = compressor + " -c '" + path.string() + "' > '" + out.string() + "'";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return out;
  }
  fs::path rules() {
    fs::path path = dir_ / "rule.yml";
    write_bytes(path, std::vector<std::uint8_t>(kAnyEventRule, kAnyEventRule + std::strlen(kAnyEventRule)));
    return path;
  }
};

TEST_F(EvtxStream, CompressedFileGivesPlainFileDetections) {
  // 70 chunks: two full jobs of 32 chunks and a last one of 6.
  const fs::path plain = write_repeated("big.evtx", 70);
  const fs::path rule = rules();
  auto expected = testing::run_cli({"hunt", "-r", rule.string(), "-f", "jsonl", plain.string()});
  ASSERT_EQ(expected.exit_code, 0) << expected.err;
  const long long events = testing::number_after(expected.err, "info: read ");
  ASSERT_GT(events, 100) << expected.err;

  for (const auto& [compressor, suffix] : std::vector<std::pair<std::string, std::string>>{{"gzip", ".gz"}, {"zstd -q", ".zst"}}) {
    const fs::path packed = compress(plain, compressor, suffix);
    auto file = testing::run_cli({"hunt", "-r", rule.string(), "-f", "jsonl", packed.string()});
    EXPECT_EQ(file.exit_code, 0) << file.err;
    EXPECT_EQ(testing::number_after(file.err, "info: read "), events) << file.err;
    EXPECT_EQ(detections_without_input(file.out), detections_without_input(expected.out)) << compressor;

    auto piped = testing::run_cli_piped("cat '" + packed.string() + "'", {"hunt", "-r", rule.string(), "-f", "jsonl", "-"});
    EXPECT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_EQ(detections_without_input(piped.out), detections_without_input(expected.out)) << compressor << " piped";
  }
  // Uncompressed EVTX from a pipe streams too.
  auto piped = testing::run_cli_piped("cat '" + plain.string() + "'", {"hunt", "-r", rule.string(), "-f", "jsonl", "-"});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(detections_without_input(piped.out), detections_without_input(expected.out));
}

TEST_F(EvtxStream, CompressedTruncatedFileIsReportedAsPlain) {
  // Cut in the second chunk, with a header that lists 17 chunks (and its
  // checksum updated): the data contains 2, the second of them cut short.
  std::vector<std::uint8_t> bytes(original_.begin(), original_.begin() + kEvtxFileHeaderSize + kEvtxChunkSize + 30000);
  bytes[42] = 17;
  bytes[43] = 0;
  put_u32(bytes, 124, static_cast<std::uint32_t>(::crc32(0, bytes.data(), 120)));
  const fs::path plain = dir_ / "cut.evtx";
  write_bytes(plain, bytes);
  const fs::path rule = rules();
  auto expected = testing::run_cli({"hunt", "-r", rule.string(), "-f", "jsonl", plain.string()});
  const fs::path packed = compress(plain, "zstd -q", ".zst");
  auto r = testing::run_cli({"hunt", "-r", rule.string(), "-f", "jsonl", packed.string()});
  EXPECT_EQ(r.exit_code, expected.exit_code) << r.err;
  EXPECT_EQ(detections_without_input(r.out), detections_without_input(expected.out));
  for (const char* text : {"chunk is truncated", "the file header lists 17 chunks but the file holds 2",
                           "truncated EVTX chunk: 1", "missing EVTX chunk: 15"}) {
    EXPECT_NE(expected.err.find(text), std::string::npos) << text << "\n" << expected.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << text << "\n" << r.err;
  }
}

TEST_F(EvtxStream, DamagedCompressionKeepsEventsBefore) {
  // gzip, since it decodes as it reads: a zstd frame of these repeated
  // chunks cut in half gives no output at all.
  const fs::path plain = write_repeated("big.evtx", 70);
  const fs::path packed = compress(plain, "gzip", ".gz");
  const std::string gz = testing::read_file(packed.string());
  const fs::path cut = dir_ / "cut.evtx.gz";
  std::ofstream(cut, std::ios::binary) << gz.substr(0, gz.size() / 2);
  auto r = testing::run_cli({"hunt", "-r", rules().string(), "-f", "jsonl", cut.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("input ends early: gzip data is truncated"), std::string::npos) << r.err;
  EXPECT_GT(testing::number_after(r.err, "info: read "), 100) << r.err;
  EXPECT_NE(r.err.find("info: read 1 input only up to where its data ends early"), std::string::npos) << r.err;
}

TEST_F(EvtxStream, CompressedPipeKeepsMemoryFlat) {
  // About 250 MB of EVTX, compressed on the fly. Read whole, as before, the
  // data alone took more than 250 MB.
  const fs::path chunks = write_repeated("chunks.evtx", 16);
  const std::string producer = "{ cat '" + chunks.string() + "'; i=0; while [ $i -lt 240 ]; do tail -c +" +
                               std::to_string(kEvtxFileHeaderSize + 1) + " '" + chunks.string() +
                               "'; i=$((i+1)); done; } | zstd -q -1 -c";
  const char* kNoEventRule = "title: No event\nid: 3c4d5e6f-7081-4923-ab4c-5d6e7f809102\nlevel: low\n"
                             "logsource:\n  product: windows\ndetection:\n  selection:\n    EventID: 999999\n"
                             "  condition: selection\n";
  const fs::path rule = dir_ / "none.yml";
  write_bytes(rule, std::vector<std::uint8_t>(kNoEventRule, kNoEventRule + std::strlen(kNoEventRule)));
  auto r = testing::run_cli_piped(producer, {"hunt", "-r", rule.string(), "-j", "2", "-o", "/dev/null", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(testing::number_after(r.err, "info: read "), 10000) << r.err;
  const long long peak = testing::number_after(r.err, "peak memory ");
  ASSERT_GT(peak, 0) << r.err;
  EXPECT_LT(peak, 100) << "peak memory in MiB; the decompressed input alone is about 250 MB";
}

TEST(EvtxBinXml, UnpairedSurrogateIsReadAndReported) {
  EvtxBuilder b;
  b.begin_record();
  b.fragment_header();
  b.open("Event");
  b.close_start();
  b.open("EventData");
  b.close_start();
  b.open("Data");
  b.close_start();
  b.bytes({0x05, 0x01});
  b.u16(3);
  b.u16('a');
  b.u16(0xD800);  // a high surrogate without its low half
  b.u16('b');
  b.end_element();
  b.end_element();
  b.end_element();
  b.end_of_fragment();
  b.end_record();

  OurRead result;
  read_built(b.file(), result);
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(values_of(result.records[0], "Data"), Values{"a\xEF\xBF\xBD" "b"});
  EXPECT_EQ(result.stats.repaired_records, 1u);
  EXPECT_TRUE(any_message_contains(result.diagnostics, "1 records hold unpaired UTF-16 surrogates"));
  EXPECT_TRUE(any_message_contains(result.diagnostics, "the first is record 1 at offset 0x1200"));
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// EVTX messages have no line, and the parts of one file are read by several
// threads, so sorting put them in the order the threads happened to report.
TEST(DiagnosticOrder, MessagesWithoutLineSortByText) {
  DiagnosticList diagnostics;
  diagnostics.error("a.evtx", 0, 0, "", "chunk 2 at offset 0x21000: bad");
  diagnostics.error("a.evtx", 0, 0, "", "chunk 1 at offset 0x11000: bad");
  diagnostics.warning("b.jsonl", 5, 0, "", "second on line 5");
  diagnostics.warning("b.jsonl", 5, 0, "", "first on line 5");
  diagnostics.sort();
  const auto& items = diagnostics.items();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].message, "chunk 1 at offset 0x11000: bad");
  EXPECT_EQ(items[1].message, "chunk 2 at offset 0x21000: bad");
  // Messages with a line keep the order in which they were reported.
  EXPECT_EQ(items[2].message, "second on line 5");
  EXPECT_EQ(items[3].message, "first on line 5");
}

TEST(DiagnosticOrder, ChunkNumbersSortByValue) {
  DiagnosticList diagnostics;
  for (const char* chunk : {"chunk 300", "chunk 40", "chunk 5", "chunk 41", "chunk 005x", "chunk 5 "})
    diagnostics.error("a.evtx", 0, 0, "", chunk);
  diagnostics.sort();
  std::vector<std::string> order;
  for (const auto& d : diagnostics.items()) order.push_back(d.message);
  EXPECT_EQ(order, (std::vector<std::string>{"chunk 5", "chunk 5 ", "chunk 005x", "chunk 40", "chunk 41", "chunk 300"}));
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// The decoder's per-chunk map from name and template offsets to indexes:
// it grows past its first 256 slots and drops every entry on clear().
TEST(EvtxOffsetMap, GrowsAndClearsPerChunk) {
  evtx::OffsetMap map;
  for (int chunk = 0; chunk < 3; ++chunk) {
    SCOPED_TRACE(chunk);
    map.clear();
    for (std::uint32_t k = 0; k < 2000; ++k) EXPECT_EQ(map.find(k * 31 + chunk), nullptr);
    for (std::uint32_t k = 0; k < 2000; ++k) map.insert(k * 31 + chunk, k);
    for (std::uint32_t k = 0; k < 2000; ++k) {
      const std::uint32_t* index = map.find(k * 31 + chunk);
      ASSERT_NE(index, nullptr) << k;
      EXPECT_EQ(*index, k);
    }
    EXPECT_EQ(map.find(65535), nullptr);
  }
}

}  // namespace
}  // namespace sigscope
