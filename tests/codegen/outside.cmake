# outside.cmake: the codegen_outside test. Installs the libactor build in
# BUILD_DIR into WORK_DIR/prefix, then configures, builds and runs the small
# project in SOURCE_DIR, which finds it with find_package(actor) and
# generates its state code with actor_generate().
file(REMOVE_RECURSE ${WORK_DIR})
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()
run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run("configure" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_C_COMPILER=${C_COMPILER}
  -DCMAKE_BUILD_TYPE=Debug)
run("build" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
execute_process(COMMAND ${WORK_DIR}/build/outside_demo RESULT_VARIABLE rc
  OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "outside_demo: ${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "outside_demo exited with ${rc}")
endif()
