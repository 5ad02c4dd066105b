// The base of every error caused by the user's input: a bad file, option, model layout or data.
// Its message is one line naming the place at fault; the CLI prints just that and exits 1, the worker fails the
// job once with it. Anything else thrown (InvalidOperationException, ArgumentException, ...) is a bug and keeps
// its stack trace.
namespace OnnxLora.Onnx;

public abstract class OnnxLoraException : Exception
{
    protected OnnxLoraException()
    {
    }

    protected OnnxLoraException(string message)
        : base(message)
    {
    }

    protected OnnxLoraException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
