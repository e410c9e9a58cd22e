# Negative compile tests: snippets that must NOT compile, each failing for the expected reason.
#
# takeoff_add_compile_fail_tests(FILE) scans FILE for blocks of the form
#     #if defined(TAKEOFF_CASE_some_name) // expect: text the compiler must print
#     ... code that must be rejected ...
#     #endif
# and adds one ctest per block (compile with -DTAKEOFF_CASE_some_name: must fail and print the
# text), plus one test that compiles FILE with no case defined and must succeed, so a typo in the
# snippet's shared part cannot make every case "fail" for the wrong reason.

set(TAKEOFF_COMPILE_FAIL_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/compile_fail.cmake")

function(takeoff_add_compile_fail_tests file)
    get_filename_component(stem "${file}" NAME_WE)
    file(READ "${file}" text)
    # A '[' or ']' in the text would make CMake's list splitting merge the blocks after it into one
    # (so their cases would silently not run): hide them while splitting, restore them in `expect`.
    string(REPLACE "[" "TAKEOFF_LBRACKET" text "${text}")
    string(REPLACE "]" "TAKEOFF_RBRACKET" text "${text}")
    string(REGEX MATCHALL "#if defined\\(TAKEOFF_CASE_[A-Za-z0-9_]+\\)[ ]*// expect: [^\n]*" blocks "${text}")
    if(NOT blocks)
        message(FATAL_ERROR "${file} has no '#if defined(TAKEOFF_CASE_x) // expect: ...' blocks")
    endif()
    set(common
        -DCXX=${CMAKE_CXX_COMPILER}
        -DSOURCE=${file}
        "-DINCLUDES=${TAKEOFF_INCLUDE_DIR}|${TAKEOFF_SINGLE_INCLUDE_SHIMS}|${Boost_INCLUDE_DIRS}"
        -DSTANDARD=${CMAKE_CXX20_STANDARD_COMPILE_OPTION})
    add_test(NAME compile_fail.${stem}.baseline
        COMMAND ${CMAKE_COMMAND} ${common} -DEXPECT_SUCCESS=1 -P ${TAKEOFF_COMPILE_FAIL_SCRIPT})
    set_tests_properties(compile_fail.${stem}.baseline PROPERTIES LABELS "compile_fail")
    foreach(block IN LISTS blocks)
        string(REGEX REPLACE "#if defined\\(TAKEOFF_CASE_([A-Za-z0-9_]+)\\).*" "\\1" case "${block}")
        string(REGEX REPLACE ".*// expect: " "" expect "${block}")
        string(STRIP "${expect}" expect)
        string(REPLACE "TAKEOFF_LBRACKET" "[" expect "${expect}")
        string(REPLACE "TAKEOFF_RBRACKET" "]" expect "${expect}")
        add_test(NAME compile_fail.${stem}.${case}
            COMMAND ${CMAKE_COMMAND} ${common} -DCASE=TAKEOFF_CASE_${case} "-DEXPECT=${expect}"
                    -P ${TAKEOFF_COMPILE_FAIL_SCRIPT})
        set_tests_properties(compile_fail.${stem}.${case} PROPERTIES LABELS "compile_fail")
    endforeach()
endfunction()
