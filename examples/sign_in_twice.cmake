# ctest's example.sign_in, run by takeoff-emulator as its program (cmake -DPROGRAM=... -P this):
# example_sign_in twice against the same emulator, from an empty token cache. The first run must
# sign in with the browser, the second must say it used the cached tokens (and open no browser).
if(NOT PROGRAM OR NOT IS_ABSOLUTE "$ENV{XDG_CACHE_HOME}")
    message(FATAL_ERROR "usage: XDG_CACHE_HOME=/abs/dir cmake -DPROGRAM=example_sign_in -P sign_in_twice.cmake")
endif()
file(REMOVE_RECURSE "$ENV{XDG_CACHE_HOME}")

foreach(run first second)
    execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE status OUTPUT_VARIABLE output)
    message("--- ${run} run (exit ${status}):\n${output}")
    if(NOT status EQUAL 0)
        message(FATAL_ERROR "the ${run} run failed")
    endif()
    set(${run} "${output}")
endforeach()

if(NOT first MATCHES "signing in with the browser" OR NOT first MATCHES "signed in as ")
    message(FATAL_ERROR "the first run did not sign in with the browser")
endif()
if(NOT second MATCHES "using the cached tokens" OR second MATCHES "signing in")
    message(FATAL_ERROR "the second run did not use the cached tokens")
endif()
