// `hugeblob gc [--dry-run] [--grace DURATION] [--repack-threshold F]` and
// `hugeblob copy SRC_STORE DST_STORE [NAME...]`.
#pragma once

#include <functional>

#include "cli/options.h"

namespace hugeblob::cli {

// Registers the gc and copy subcommands on `app`; when one is chosen, `run`
// is set to the function that runs it and returns the exit status.
void AddMaintenanceCommands(CLI::App& app, GlobalOptions& g, std::function<int()>& run);

}  // namespace hugeblob::cli
