// Which run-time failures a job retries: only those a retry can cure (I/O other than a missing file, memory,
// timeouts, the store, ONNX Runtime); configuration and data errors found at run time fail the job once.
using OnnxLora.Training.Config;
using OnnxLora.Worker.Execution;
using OnnxLora.Worker.Spec;

namespace OnnxLora.Worker.Tests;

public sealed class JobErrorsTests
{
    public static TheoryData<Exception, bool> Cases => new()
    {
        { new IOException("disk full"), true },
        { new OutOfMemoryException(), true },
        { new TimeoutException(), true },
        { new UnauthorizedAccessException(), true },
        { new Microsoft.Data.Sqlite.SqliteException("database is locked", 5), true },
        { new AggregateException(new IOException("nfs stale handle")), true },
        { new FileNotFoundException("gone"), false },
        { new DirectoryNotFoundException("gone"), false },
        { new InvalidOperationException("val_split 0.99 of 16 examples leaves no training examples"), false },
        { new InvalidDataException("line 3: not JSON"), false },
        { new ConfigException("lr", "lr must be > 0"), false },
        { new JobSpecException("config.device", "device 'cuda' is not available on this server"), false },
        { new NotSupportedException("element type"), false },
        { new NullReferenceException(), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnlyErrorsARetryCanCureAreRetried(Exception e, bool retryable) => Assert.Equal(retryable, JobErrors.IsRetryable(e));
}
