namespace OnnxLora.Models.Tests;
