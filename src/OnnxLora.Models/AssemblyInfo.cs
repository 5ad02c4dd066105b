namespace OnnxLora.Models;
