# mercato_embed(<out-var> <file> <symbol>): turns a file into a C source defining
#   const char <symbol>[];  const size_t <symbol>_len;
# regenerated whenever the file changes, so a binary carries its OpenAPI document or
# playground assets and needs no files at run time. JSON files are checked to parse.
set(MERCATO_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed.cmake)
function(mercato_embed out file symbol)
  set(c ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(
    OUTPUT ${c}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${c} -DSYMBOL=${symbol} -P ${MERCATO_EMBED_SCRIPT}
    DEPENDS ${file} ${MERCATO_EMBED_SCRIPT}
    COMMENT "Embedding ${file}"
    VERBATIM)
  set(${out} ${c} PARENT_SCOPE)
endfunction()
