/*
 * runtime/cuda/archc_cuda_mla.cuh — multi-head latent attention (DeepSeek MLA) on the GPU.
 * Included at the end of runtime/cuda/archc_cuda.cuh.  (Not written yet.)
 */
