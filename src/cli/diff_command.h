// `hugeblob diff NAMEA NAMEB`: which byte ranges differ between two stored
// files, and what a seeded get of NAMEB from NAMEA would fetch.
#pragma once

#include <functional>

#include "cli/options.h"

namespace hugeblob::cli {

// Registers the diff subcommand on `app`; when it is chosen, `run` is set to
// the function that runs it and returns the exit status.
void AddDiffCommand(CLI::App& app, GlobalOptions& g, std::function<int()>& run);

}  // namespace hugeblob::cli
