// Which failures of a run are worth another attempt. Only errors a retry can cure are: I/O other than a
// missing file, memory, timeouts, the store or the network, and ONNX Runtime errors (an allocation failure on a
// busy device). Everything else (bad config or data found at run time, an unsupported model, a device this
// build lacks, a bug) fails the job once with its reason instead of repeating the same failure max_attempts times.
using System.Data.Common;
using Microsoft.ML.OnnxRuntime;

namespace OnnxLora.Worker.Execution;

public static class JobErrors
{
    public static bool IsRetryable(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: 1 } a => IsRetryable(a.InnerExceptions[0]),
        FileNotFoundException or DirectoryNotFoundException or EndOfStreamException => false,
        IOException or UnauthorizedAccessException or OutOfMemoryException or TimeoutException or DbException
            or System.Net.Sockets.SocketException or System.Net.Http.HttpRequestException or OnnxRuntimeException => true,
        _ => false,
    };
}
