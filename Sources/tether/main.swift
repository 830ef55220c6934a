// Entry point. Top-level code stays in one call: Embedded Swift has no implicit main actor for
// top-level globals (see ../shared/notes/embedded-cross.md).
import CShims

exit(Int32(runTether(arguments: CommandLineArgs.load())))
