// CliErrors: the user's bad input (a project exception, a missing or malformed file) becomes one "error:" line
// and exit code 1; InvalidOperationException, ArgumentException and NotSupportedException are bugs and leave
// CliErrors.Run unchanged, with the stack trace of the method that threw them.
using System.Runtime.CompilerServices;
using OnnxLora.Cli.Commands;
using OnnxLora.Models;
using OnnxLora.Models.Chat.Jinja;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite;
using OnnxLora.Training.Config;
using OnnxLora.Training.Run;
using OnnxLora.Worker.Spec;

namespace OnnxLora.Cli.Tests;

public sealed class CliErrorsTests
{
    [Fact]
    public void UserErrorPrintsOneLineAndExitsWithBadInput()
    {
        using var error = new StringWriter();
        int code = CliErrors.Run(() => throw new BadInputException("model.onnx: node 'mm0': op 'Cos' is not supported"), error);
        Assert.Equal(CliErrors.BadInput, code);
        Assert.Equal($"error: model.onnx: node 'mm0': op 'Cos' is not supported{Environment.NewLine}", error.ToString());
    }

    [Theory]
    [InlineData("InvalidOperation")]
    [InlineData("Argument")]
    [InlineData("NotSupported")]
    public void InternalBugIsRethrownWithItsStackTrace(string kind)
    {
        using var error = new StringWriter();
        var e = Assert.ThrowsAny<Exception>(() => CliErrors.Run(() => ThrowBug(kind), error));
        Assert.IsNotAssignableFrom<OnnxLoraException>(e);
        Assert.False(CliErrors.IsUserError(e));
        Assert.Contains(nameof(ThrowBug), e.StackTrace);
        Assert.Empty(error.ToString());
    }

    [Fact]
    public void EveryProjectExceptionIsAUserError()
    {
        Exception[] errors =
        [
            new BadInputException("x"),
            new ModelFormatException("x"),
            new SafetensorsFormatException("x"),
            new RewriteException("x"),
            new ConfigException("lr", "x"),
            new JinjaException(1, "x"),
            new NonFiniteLossException(3, float.NaN, null),
            new JobSpecException("model", "x"),
        ];
        Assert.All(errors, e => Assert.IsAssignableFrom<OnnxLoraException>(e));
        Assert.All(errors, e => Assert.True(CliErrors.IsUserError(e), e.GetType().Name));
    }

    [Fact]
    public void MissingOrMalformedFilesAreUserErrors()
    {
        Assert.True(CliErrors.IsUserError(new FileNotFoundException("x")));
        Assert.True(CliErrors.IsUserError(new DirectoryNotFoundException("x")));
        Assert.True(CliErrors.IsUserError(new InvalidDataException("x")));
        Assert.True(CliErrors.IsUserError(new UnauthorizedAccessException("x")));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ThrowBug(string kind) => kind switch
    {
        "InvalidOperation" => throw new InvalidOperationException("a state no input can reach"),
        "Argument" => throw new ArgumentException("an internal caller passed a bad argument"),
        _ => throw new NotSupportedException("an internal path that is not implemented"),
    };
}
