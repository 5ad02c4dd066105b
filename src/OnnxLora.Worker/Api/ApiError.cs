// The body of every error answer: a one-line reason and, for bad specs, the field at fault.
namespace OnnxLora.Worker.Api;

public sealed record ApiError(string Error, string? Field);
