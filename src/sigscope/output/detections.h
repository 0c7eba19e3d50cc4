// Formatting detections for `sigscope hunt`: JSON lines, CSV and a
// terminal table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sigscope/input/event.h"
#include "sigscope/match/engine.h"

namespace sigscope {

enum class DetectionFormat { Jsonl, Csv, Table };

// Everything about one detection that the formats print.
struct DetectionContext {
  const Engine& engine;
  const Matcher& matcher;
  const Detection& detection;
  std::string_view input;  // input file name
  const RawEvent& event;
};

// Appends one line (with its newline) describing the detection.
void format_detection(DetectionFormat format, const DetectionContext& context, std::string& out);

// Appends one line (with its newline) describing a correlation that fired.
// `input_names` names the inputs that the `input` indices of its events
// refer to.
void format_correlation(DetectionFormat format, const Engine& engine, const CorrelationFire& fire,
                        const std::vector<std::string>& input_names, std::string& out);

// The CSV header line, with its newline.
std::string csv_header();
// The table header, with its newline.
std::string table_header();

// Appends the event's fields as a JSON object; repeated names become arrays.
// An event whose EventData or UserData repeats a System field's name is
// written in evtx_dump's layout instead, so that the JSON reader gives back
// the fields routing and matching read.
void append_event_json(const RawEvent& event, std::string& out);

}  // namespace sigscope
