namespace OnnxLora.Training.Tests;
