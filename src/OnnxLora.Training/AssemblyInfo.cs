namespace OnnxLora.Training;
