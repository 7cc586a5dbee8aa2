// Small shared UI state.
import { ref } from 'vue'

/** Why the last sign-in did not work (shown in the header). */
export const signInProblem = ref('')
