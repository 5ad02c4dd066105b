// Bad user input that has no more specific exception type: an option value out of range, an unsupported op or
// model layout, a tensor missing from or mis-shaped in the user's file. One line, naming the place at fault.
namespace OnnxLora.Onnx;

public sealed class BadInputException : OnnxLoraException
{
    public BadInputException(string message)
        : base(message)
    {
    }

    public BadInputException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
