// One `onnxlora serve` child process on a loopback port, started from the test output folder, with its
// output kept for diagnostics. Kill() is SIGKILL; Terminate() sends SIGTERM (graceful stop).
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace OnnxLora.Worker.Tests;

public sealed partial class WorkerProcess : IDisposable
{
    private const int SigTerm = 15;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    private readonly string[] _args;
    private readonly StringBuilder _log = new();
    private Process? _process;

    public WorkerProcess(params string[] args)
    {
        Port = FreePort();
        _args = args;
    }

    /// <summary>Environment variables the child process gets on top of this one's.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public int Port { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}");

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public Process Process => _process ?? throw new InvalidOperationException("not started");

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "onnxlora.dll"));
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(BaseUri.ToString().TrimEnd('/'));
        foreach (var a in _args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (name, value) in Environment)
        {
            psi.Environment[name] = value;
        }
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        using var http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(p.HasExited, $"worker exited during start:\n{Log}");
            try
            {
                if ((await http.GetAsync("/health")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        Assert.Fail($"worker did not become healthy:\n{Log}");
    }

    public void Kill()
    {
        Process.Kill();
        Process.WaitForExit();
    }

    /// <summary>SIGTERM, then the exit code (or null if it did not exit in time).</summary>
    public int? Terminate(TimeSpan timeout)
    {
        _ = SendSignal(Process.Id, SigTerm);
        return Process.WaitForExit(timeout) ? Process.ExitCode : null;
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process?.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
