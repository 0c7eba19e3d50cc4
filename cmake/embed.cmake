# embed_files(OUT_VAR file1 symbol1 file2 symbol2 ...)
# Generates one .cpp per file that defines `extern const std::string_view
# sigscope::embedded::<symbol>` holding the file's bytes, and appends the
# generated sources to OUT_VAR.
function(embed_files out_var)
  set(sources)
  set(args ${ARGN})
  list(LENGTH args n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET args ${i} file)
    list(GET args ${j} symbol)
    set(out ${CMAKE_BINARY_DIR}/embedded/${symbol}.cpp)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -DINPUT=${file} -DOUTPUT=${out} -DSYMBOL=${symbol}
              -P ${CMAKE_SOURCE_DIR}/cmake/embed_one.cmake
      DEPENDS ${file} ${CMAKE_SOURCE_DIR}/cmake/embed_one.cmake
      COMMENT "Embedding ${file}")
    list(APPEND sources ${out})
  endforeach()
  set(${out_var} ${sources} PARENT_SCOPE)
endfunction()
