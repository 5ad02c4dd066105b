// Layout detection and the one-line errors of the JSONL reader, each naming file:line.
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Tests.Data;

public sealed class JsonlDatasetReaderTests
{
    private static string Error(string jsonl, DatasetFormat format = DatasetFormat.Auto) =>
        Assert.Throws<InvalidDataException>(() => JsonlDatasetReader.Parse(jsonl, "train.jsonl", format)).Message;

    [Fact]
    public void DetectsLayoutAndSkipsBlankLines()
    {
        var r = JsonlDatasetReader.Parse("\n{\"text\": \"a\"}\r\n\n   \n{\"text\": \"b\"}\n", "t.jsonl");
        Assert.Equal(2, r.Count);
        Assert.All(r, e => Assert.Equal(DatasetFormat.Text, e.Format));
        Assert.Equal("t.jsonl:5", r[1].Source);
    }

    [Fact]
    public void MalformedLineNamesFileAndLine() =>
        Assert.StartsWith("train.jsonl:2: malformed JSON", Error("{\"text\": \"a\"}\n{\"text\": \"b\""));

    [Fact]
    public void MissingFieldIsNamed() =>
        Assert.Equal("train.jsonl:1: missing field 'completion'", Error("{\"prompt\": \"a\"}"));

    [Fact]
    public void WrongTypeIsNamed() =>
        Assert.Equal("train.jsonl:1: field 'text' must be a string, got a number", Error("{\"text\": 3}"));

    [Fact]
    public void UnknownRoleIsNamed() =>
        Assert.StartsWith("train.jsonl:1: unknown role 'robot'",
            Error("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}"));

    [Fact]
    public void MixedLayoutsFail() =>
        Assert.StartsWith("train.jsonl:2: mixed layouts", Error("{\"text\": \"a\"}\n{\"prompt\": \"a\", \"completion\": \"b\"}"));

    [Fact]
    public void ForcedFormatRejectsOtherLayouts() =>
        Assert.StartsWith("train.jsonl:1: mixed layouts", Error("{\"text\": \"a\"}", DatasetFormat.Messages));

    [Fact]
    public void EmptyDatasetFails() =>
        Assert.Equal("train.jsonl: dataset is empty (no non-blank lines)", Error("\n\n  \n"));

    [Fact]
    public void ReadFileReportsMissingFile() =>
        Assert.Throws<FileNotFoundException>(() => JsonlDatasetReader.ReadFile("/nonexistent/x.jsonl"));
}
