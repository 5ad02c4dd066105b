// One `onnxlora serve` child process of the chaos run, named by slot and generation (w1-g3) so the claims it
// made can be told apart from its successors'. Kill() is SIGKILL and records the moment; output goes to a log file.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OnnxLora.Tools.WorkerChaos;

internal sealed class ChaosWorker(int slot, int generation, string cliDll, IReadOnlyList<string> args, string logDir) : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);
    private Process? _process;
    private StreamWriter? _log;

    public string Id { get; } = $"w{slot}-g{generation}";

    public int Slot => slot;

    public int Generation => generation;

    public Uri BaseUri { get; } = new($"http://127.0.0.1:{FreePort()}");

    /// <summary>When it was SIGKILLed (Unix ms), or null while it lives.</summary>
    public long? KilledMs { get; private set; }

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(cliDll);
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(BaseUri.ToString().TrimEnd('/'));
        psi.ArgumentList.Add($"--Worker:WorkerId={Id}");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        _log = new StreamWriter(Path.Combine(logDir, Id + ".log")) { AutoFlush = true };
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => Write(e.Data);
        p.ErrorDataReceived += (_, e) => Write(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        using var http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"worker {Id} exited during start (log: {Path.Combine(logDir, Id + ".log")})");
            }
            try
            {
                if ((await http.GetAsync("/health")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"worker {Id} did not become healthy in {s_startTimeout.TotalSeconds} s");
    }

    public void Kill()
    {
        KilledMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _process!.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process?.Dispose();
        lock (this)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (this)
        {
            _log?.WriteLine(line);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
