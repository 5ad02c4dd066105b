// An error while parsing or rendering a chat template, naming the template line. raise_exception() in a
// template (e.g. "roles must alternate") also ends up here, with IsRaisedByTemplate set.
using OnnxLora.Onnx;

namespace OnnxLora.Models.Chat.Jinja;

public sealed class JinjaException : OnnxLoraException
{
    public JinjaException(int line, string message, bool raisedByTemplate = false)
        : base($"chat template line {line}: {message}")
    {
        TemplateLine = line;
        IsRaisedByTemplate = raisedByTemplate;
    }

    public JinjaException()
    {
    }

    public JinjaException(string message)
        : base(message)
    {
    }

    public JinjaException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public int TemplateLine { get; }

    public bool IsRaisedByTemplate { get; }
}

/// <summary>A builtin called with bad arguments; the interpreter adds the template line.</summary>
internal sealed class JinjaArgumentException(string message) : Exception(message);

/// <summary>raise_exception() called by the template; the interpreter adds the template line.</summary>
internal sealed class JinjaRaisedException(string message) : Exception(message);
