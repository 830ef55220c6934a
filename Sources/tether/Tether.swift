import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// Dispatches the command line. Returns the process exit status.
func runTether(arguments: [String]) -> Int {
    let args = Array(arguments.dropFirst())
    guard let command = args.first else {
        Console.err("tether: no command given; try 'tether help'")
        return 2
    }
    switch command {
    case "--version", "version":
        Console.out(BuildInfo.versionLine)
        return 0
    case "selftest":
        return SelfTest.run()
    case "ssh-serve":
        return sshServeCommand(Array(args.dropFirst()))
    case "sftp-server":
        return Int(SFTPServer.run())
    case "help", "--help", "-h":
        Console.out(usage)
        return 0
    default:
        Console.err("tether: unknown command '\(command)'; try 'tether help'")
        return 2
    }
}

let usage = """
    usage: tether <command>
      --version     print version, target and build mode
      selftest      run the built-in checks (codecs, crypto, libssh) and report
      ssh-serve     debug SSH server on 127.0.0.1 (--port N --host-key FILE ...)
      sftp-server   built-in SFTP v3 server on stdin/stdout (started by the SSH server)
      help          this text
    """
