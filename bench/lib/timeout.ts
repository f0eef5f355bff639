/** Every wait of the harness is bounded: a pool that hangs fails its row instead of the run. */

/** `promise`, or a rejection naming `what` after `ms`. */
export const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The first line of an error's message. */
export const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]
