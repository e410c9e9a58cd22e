# Install rules: headers, the exported target, a CMake package (find_package(takeoff CONFIG)) and a
# pkg-config file. The library is header-only, so the package is architecture independent.
include(CMakePackageConfigHelpers)

set(TAKEOFF_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/cmake/takeoff)

install(DIRECTORY ${TAKEOFF_INCLUDE_DIR}/takeoff DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS takeoff EXPORT takeoffTargets)
install(EXPORT takeoffTargets NAMESPACE takeoff:: DESTINATION ${TAKEOFF_CMAKE_INSTALL_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/takeoffConfig.cmake.in
    ${PROJECT_BINARY_DIR}/takeoffConfig.cmake
    INSTALL_DESTINATION ${TAKEOFF_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/takeoffConfigVersion.cmake
    COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/takeoffConfig.cmake ${PROJECT_BINARY_DIR}/takeoffConfigVersion.cmake
    DESTINATION ${TAKEOFF_CMAKE_INSTALL_DIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/takeoff.pc.in ${PROJECT_BINARY_DIR}/takeoff.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/takeoff.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
