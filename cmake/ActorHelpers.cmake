# ActorHelpers.cmake: the project's build helpers. actor_target_setup() applies
# warnings and the ACTOR_SANITIZER choice to one target (never globally);
# actor_add_test() adds one test executable per feature with a timeout and
# labels, as CTest tests.

function(actor_target_setup tgt)
  # POSIX.1-2008 plus the common BSD/SysV extensions (strdup, clocks...).
  target_compile_definitions(${tgt} PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter)
  if(ACTOR_WERROR)
    target_compile_options(${tgt} PRIVATE -Werror)
  endif()
  if(ACTOR_SANITIZER AND NOT ACTOR_SANITIZER STREQUAL "none")
    target_compile_options(${tgt} PRIVATE -fsanitize=${ACTOR_SANITIZER} -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${tgt} PUBLIC -fsanitize=${ACTOR_SANITIZER})
  endif()
endfunction()

# actor_add_test(NAME <name> SOURCES <src>... [LABELS <label>...]
#                [TIMEOUT <s>] [LIBS <lib>...] [ARGS <arg>...])
# Builds one test executable linked with the static library and registers it.
function(actor_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LABELS;LIBS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests
    ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${T_NAME} PRIVATE actor-static ${T_LIBS})
  actor_target_setup(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    SKIP_RETURN_CODE 77)
endfunction()
