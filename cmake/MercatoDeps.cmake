# Every third-party library through pkg-config, as IMPORTED targets: their include
# directories are then SYSTEM includes for our targets (h2o's headers warn under -Wextra).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(H2O REQUIRED IMPORTED_TARGET libh2o)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(MONGOC REQUIRED IMPORTED_TARGET libmongoc-1.0)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(JWT REQUIRED IMPORTED_TARGET libjwt)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)
pkg_check_modules(LWS REQUIRED IMPORTED_TARGET libwebsockets)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
# libcurl: the test harness's HTTP client, and the auth service's SMTP and JWKS client.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
if(MERCATO_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
