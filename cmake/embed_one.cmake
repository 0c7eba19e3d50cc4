# Writes OUTPUT, a C++ file whose byte array holds INPUT, exposed as a
# std::string_view named sigscope::embedded::SYMBOL.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR byte_count "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Break the initializer into lines so compilers and editors cope with it.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT}
"// Generated from ${INPUT} by cmake/embed_one.cmake. Do not edit.\n"
"#include <string_view>\n"
"namespace sigscope::embedded {\n"
"static const unsigned char ${SYMBOL}_bytes[] = {\n${bytes}0x00};\n"
"extern const std::string_view ${SYMBOL}(reinterpret_cast<const char*>(${SYMBOL}_bytes), ${byte_count});\n"
"}\n")
