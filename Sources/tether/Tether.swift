import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// Dispatches the command line. Returns the process exit status.
func runTether(arguments: [String]) -> Int {
    let args = Array(arguments.dropFirst())
    // Like the Go agent, no command means: run the agent.
    let command = args.first ?? "run"
    switch command {
    case "run":
        return agentCommand(Array(args.dropFirst()))
    case "--version", "version":
        Console.out(BuildInfo.versionLine)
        return 0
    case "diag":
        return diagCommand(Array(args.dropFirst()))
    case "login":
        return loginCommand(Array(args.dropFirst()))
    case "ws-echo":
        #if TETHER_BOARD_BUILD
        Console.err("tether: ws-echo is a host-build tool (conformance tests); not in board builds")
        return 2
        #else
        return wsEchoCommand(Array(args.dropFirst()))
        #endif
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
        Console.err("tether: unknown command '" + String(command) + "'; try 'tether help'")
        return 2
    }
}

let usage = """
    usage: tether <command>
      run           run the agent (the default): SHELLHUB_* settings from the
                    environment or /etc/tether.conf
      diag          check config, clock, key, network, TLS, server, auth and
                    tunnel, one short line each (for a serial console)
      login         show a code to accept this device in the ShellHub console,
                    then wait until it is accepted, rejected or the code expires
      --version     print version, target and build mode
      ws-echo URL   echo every WebSocket message of ws://URL back (conformance;
                    host builds only)
      selftest      run the built-in checks (codecs, crypto, libssh) and report
      ssh-serve     debug SSH server on 127.0.0.1 (--port N --host-key FILE ...)
      sftp-server   built-in SFTP v3 server on stdin/stdout (started by the SSH server)
      help          this text
    """
