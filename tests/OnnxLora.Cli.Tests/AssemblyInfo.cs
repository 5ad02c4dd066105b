namespace OnnxLora.Cli.Tests;
