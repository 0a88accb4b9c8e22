# Fails when services/auth/openapi.json differs from what services/auth/openapi.py writes
# (someone edited one without the other).
execute_process(COMMAND ${PYTHON} ${SRC}/openapi.py OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "openapi.py failed (${rc})")
endif()
file(READ ${SRC}/openapi.json committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "services/auth/openapi.json is not what openapi.py writes: run\n  python3 services/auth/openapi.py > services/auth/openapi.json")
endif()
