// The body of every error answer: a one-line reason and, for bad specs, the field at fault. Both are cut to
// a bounded length (ErrorText), so no answer echoes a large input back.
using OnnxLora.Worker.Spec;

namespace OnnxLora.Worker.Api;

public sealed record ApiError(string Error, string? Field)
{
    public static ApiError Of(string error, string? field = null) =>
        new(ErrorText.Clip(error), field is null ? null : ErrorText.Quote(field));
}
