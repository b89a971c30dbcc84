// Shell completions, man pages and the command reference of docs/cli.md,
// generated from the same CLI11 definitions that --help prints, so none of
// them can drift from the program. Run by the build (CMakeLists.txt:
// `hugeblob __generate KIND`), and by tests/cli_docs.sh to check that
// docs/cli.md holds the current reference.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace hugeblob::cli {

// KIND: "bash" (a bash-completion script), "zsh" (a #compdef file),
// "markdown" (the reference section of docs/cli.md), "man DIR" (writes
// hugeblob.1 and hugeblob-COMMAND.1 into DIR). Returns the exit status.
int Generate(const CLI::App& app, const std::string& kind, const std::string& dir);

// The text of --version: release, format versions, codecs and hashes.
std::string VersionText();

}  // namespace hugeblob::cli
