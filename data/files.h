// File-system helpers for the loaders: every failure is a user error that names the path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

std::vector<uint8_t> read_file_bytes(const std::string& path);
// The same, returning false with a message instead of stopping (for worker threads).
bool try_read_file_bytes(const std::string& path, std::vector<uint8_t>* bytes, std::string* error);
std::vector<std::string> read_lines(const std::string& path);  // without trailing '\r' or '\n'
std::vector<std::string> split_lines(const std::vector<uint8_t>& bytes);  // read_lines on bytes in memory
bool is_directory(const std::string& path);
bool is_file(const std::string& path);
// Names (not paths) of the entries of a directory, sorted bytewise; directories only or files only.
// Hidden entries (".name") are left out; listing files, an entry that is neither a folder nor a
// readable file (a dangling link, a pipe) is a user error.
std::vector<std::string> list_directory(const std::string& path, bool directories);
