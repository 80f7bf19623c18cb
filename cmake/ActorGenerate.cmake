# ActorGenerate.cmake: actor_generate(), which runs actorgen on C headers at
# build time and adds the generated codecs and typed state clients to a
# target. Used inside libactor's own tree (the actorgen target) and, after
# find_package(actor), by outside projects (the actor::actorgen target).
#
#   actor_generate(TARGET <target> HEADERS <header>... [OUTPUT_DIR <dir>])
#
# For each header h.h it writes <dir>/h.gen.h and <dir>/h.gen.c (<dir>
# defaults to ${CMAKE_CURRENT_BINARY_DIR}/actorgen), regenerated whenever the
# header or actorgen changes, adds the .gen.c to the target's sources and
# both the output directory and the header's directory to its include path.
# The target must link actor (or actor-static / actor::actor).
function(actor_generate)
  cmake_parse_arguments(AG "" "TARGET;OUTPUT_DIR" "HEADERS" ${ARGN})
  if(NOT AG_TARGET OR NOT AG_HEADERS)
    message(FATAL_ERROR "actor_generate: TARGET and HEADERS are required")
  endif()
  if(TARGET actorgen)
    set(tool actorgen)
    set(tool_dep actorgen)
  elseif(TARGET actor::actorgen)
    set(tool actor::actorgen)
    set(tool_dep $<TARGET_FILE:actor::actorgen>)
  else()
    message(FATAL_ERROR "actor_generate: no actorgen target (find_package(actor) first)")
  endif()
  if(NOT AG_OUTPUT_DIR)
    set(AG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/actorgen)
  endif()
  file(MAKE_DIRECTORY ${AG_OUTPUT_DIR})
  foreach(hdr IN LISTS AG_HEADERS)
    get_filename_component(abs ${hdr} ABSOLUTE)
    get_filename_component(stem ${abs} NAME_WLE)
    get_filename_component(dir ${abs} DIRECTORY)
    set(gen_h ${AG_OUTPUT_DIR}/${stem}.gen.h)
    set(gen_c ${AG_OUTPUT_DIR}/${stem}.gen.c)
    add_custom_command(
      OUTPUT ${gen_h} ${gen_c}
      COMMAND ${tool} -o ${AG_OUTPUT_DIR} ${abs}
      DEPENDS ${abs} ${tool_dep}
      COMMENT "actorgen ${stem}.h"
      VERBATIM)
    target_sources(${AG_TARGET} PRIVATE ${gen_c} ${gen_h})
    target_include_directories(${AG_TARGET} PUBLIC ${AG_OUTPUT_DIR} ${dir})
  endforeach()
endfunction()
