# Settings for takeoff's own targets (tests, examples, benchmarks) only; never applied to the
# `takeoff` target that consumers link.

option(TAKEOFF_WARNINGS_AS_ERRORS "Treat warnings in takeoff's own targets as errors" OFF)
set(TAKEOFF_SANITIZE "" CACHE STRING "Sanitizers for takeoff's own targets, e.g. address,undefined")

# Sanitizers apply to everything we compile, Boost sources included.
add_library(takeoff_sanitize INTERFACE)
if(TAKEOFF_SANITIZE)
    target_compile_options(takeoff_sanitize INTERFACE
        -fsanitize=${TAKEOFF_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(takeoff_sanitize INTERFACE -fsanitize=${TAKEOFF_SANITIZE})
    # g++ warns that ThreadSanitizer does not model std::atomic_thread_fence, which Asio uses
    # (ref_count_down, std_fenced_block): not our code to change. What TSan then misreads is
    # suppressed in tests/tsan.supp, each entry with its reason.
    if(TAKEOFF_SANITIZE MATCHES "thread")
        target_compile_options(takeoff_sanitize INTERFACE $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
    endif()
endif()

# Warnings apply to our own sources only.
add_library(takeoff_project_options INTERFACE)
target_compile_options(takeoff_project_options INTERFACE -Wall -Wextra -Wpedantic
    $<$<BOOL:${TAKEOFF_WARNINGS_AS_ERRORS}>:-Werror>)
target_link_libraries(takeoff_project_options INTERFACE takeoff_sanitize)

# Asio, Asio-SSL and Beast compiled once (tests/support/boost_sources.cpp) instead of in every
# translation unit; the macros must then be set on every TU that links this library.
add_library(takeoff_boost_sources STATIC ${PROJECT_SOURCE_DIR}/tests/support/boost_sources.cpp)
target_compile_definitions(takeoff_boost_sources PUBLIC
    BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION)
target_link_libraries(takeoff_boost_sources PUBLIC takeoff::takeoff takeoff_sanitize)

# With TAKEOFF_USE_SINGLE_INCLUDE our own sources still include individual headers
# (<takeoff/core/error.hpp>, ...). Each such path gets a shim that includes the single header, placed
# after single_include/ on the include path, so the whole suite compiles against the generated file.
set(TAKEOFF_SINGLE_INCLUDE_SHIMS "")
if(TAKEOFF_USE_SINGLE_INCLUDE)
    set(TAKEOFF_SINGLE_INCLUDE_SHIMS ${PROJECT_BINARY_DIR}/single_include_shims)
    file(GLOB_RECURSE library_headers RELATIVE ${PROJECT_SOURCE_DIR}/include
        CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/takeoff/*.hpp)
    foreach(header IN LISTS library_headers)
        if(NOT header STREQUAL "takeoff/takeoff.hpp")
            file(CONFIGURE OUTPUT ${TAKEOFF_SINGLE_INCLUDE_SHIMS}/${header}
                CONTENT "// Shim for tests built against the single header.\n#include <takeoff/takeoff.hpp>\n")
        endif()
    endforeach()
    target_include_directories(takeoff_project_options INTERFACE ${TAKEOFF_SINGLE_INCLUDE_SHIMS})
    target_include_directories(takeoff_boost_sources PUBLIC ${TAKEOFF_SINGLE_INCLUDE_SHIMS})
endif()
