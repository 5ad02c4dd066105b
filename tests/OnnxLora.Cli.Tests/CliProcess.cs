// Runs the built CLI as a child process: `dotnet artifacts/bin/OnnxLora.Cli/<config>/onnxlora.dll args…`
// from the repository root, with the same configuration as this test binary. It captures exit code,
// stdout and stderr, optionally with extra environment variables; it does not build anything (the project
// reference builds the CLI first).
using System.Diagnostics;

namespace OnnxLora.Cli.Tests;

public sealed record CliResult(int ExitCode, string StdOut, string StdErr);

public static class CliProcess
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    /// <summary>artifacts/bin/OnnxLora.Cli/&lt;config&gt;/onnxlora.dll, config taken from this test binary's folder.</summary>
    public static string CliDll
    {
        get
        {
            var config = Path.GetFileName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var dll = Path.Combine(TestPaths.RepoRoot, "artifacts", "bin", "OnnxLora.Cli", config, "onnxlora.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"CLI not built: {dll}", dll);
        }
    }

    public static CliResult Run(params string[] args) => RunWithEnvironment(new Dictionary<string, string?>(), args);

    /// <summary>Runs with <paramref name="environment"/> set (a null value removes the variable) on top of this process's.</summary>
    public static CliResult RunWithEnvironment(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = TestPaths.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                psi.Environment.Remove(name);
            }
            else
            {
                psi.Environment[name] = value;
            }
        }
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(s_timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"onnxlora {string.Join(' ', args)} ran past {s_timeout}");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}
