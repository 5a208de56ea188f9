"""State space model mathematics: pure tensor functions named after the equations, and thin layers.

Glossary (code name -> symbol):
    d_model, H   channels             d_state, N   state size (M modes stored per channel)
    L            sequence length      dt           step size Δ
    A, B, C, D   continuous SSM       A_bar, B_bar discrete Ā, B̄
    w            free parameter of Re(A) (reparameterized)   dt_param   free parameter of Δ
    K            convolution kernel K[ℓ] = c·Re Σ_m C_m B̄_m Ā_m^ℓ (c = 2 for conjugate pairs)

Modules: hippo (HiPPO matrices, NPLR), init (diagonal inits), reparam (Re A and Δ maps),
discretize (ZOH, bilinear, Euler, Mamba), kernel (Vandermonde, Krylov, FFT conv),
recurrence (step and sequential reference), lti (layers), build (spec -> layer),
scan (selective scan; scan_args reads mamba_ssm's B/C layouts, scan_ref is its reference),
seeding (every initialization drawn from a local generator).
"""
