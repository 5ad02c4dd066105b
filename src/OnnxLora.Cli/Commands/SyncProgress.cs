// IProgress that reports on the caller's thread (Progress<T> posts to the thread pool and can reorder lines).
namespace OnnxLora.Cli.Commands;

internal sealed class SyncProgress(Action<string> report) : IProgress<string>
{
    public void Report(string value) => report(value);
}
