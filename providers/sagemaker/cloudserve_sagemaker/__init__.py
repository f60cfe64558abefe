"""cloudserve's AWS SageMaker target (real-time endpoints). See provider.SageMakerProvider."""
