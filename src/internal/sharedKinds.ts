/**
 * The element kinds of shared typed memory (`Shared.Kind`): their typed array
 * constructors, and the range of the integer ones, for `Shared.make`,
 * `Shared.fromRows` and the checks of `Shared.map`.
 *
 * @internal
 */

/** The typed array constructor of each kind. */
export const constructors = {
  Int8: Int8Array,
  Uint8: Uint8Array,
  Int16: Int16Array,
  Uint16: Uint16Array,
  Int32: Int32Array,
  Uint32: Uint32Array,
  Float32: Float32Array,
  Float64: Float64Array
} as const

/** A kind's name: `"Int32"`, `"Float64"`, … */
export type Kind = keyof typeof constructors

/** Every kind, in the order of `constructors`. */
export const kinds = Object.keys(constructors) as ReadonlyArray<Kind>

/** The smallest and largest value of an integer kind; `undefined` for a float kind. */
export const integerRange: { readonly [K in Kind]: readonly [min: number, max: number] | undefined } = {
  Int8: [-128, 127],
  Uint8: [0, 255],
  Int16: [-32768, 32767],
  Uint16: [0, 65535],
  Int32: [-2147483648, 2147483647],
  Uint32: [0, 4294967295],
  Float32: undefined,
  Float64: undefined
}

/** Whether `u` names a kind (an own key of `constructors`, never `toString` or `__proto__`). */
export const isKind = (u: unknown): u is Kind => typeof u === "string" && Object.hasOwn(constructors, u)

/** The kind of a typed array, by its constructor (`undefined` for any other value). */
export const kindOf = (u: unknown): Kind | undefined => {
  if (!ArrayBuffer.isView(u)) return undefined
  for (const kind of kinds) {
    if (u instanceof constructors[kind]) return kind
  }
  return undefined
}

/** Whether `u` is a typed array of `kind` over memory shared between threads (a `SharedArrayBuffer`). */
export const isSharedView = (u: unknown, kind: Kind): boolean =>
  u instanceof constructors[kind] && u.buffer instanceof SharedArrayBuffer

/** A new typed array of `kind` and `length` over a fresh `SharedArrayBuffer` (throws a `RangeError` when too large). */
export const allocate = (kind: Kind, length: number): ArrayBufferView & { length: number } => {
  const Ctor = constructors[kind] as unknown as new(buffer: SharedArrayBuffer) => ArrayBufferView & { length: number }
  return new Ctor(new SharedArrayBuffer(length * constructors[kind].BYTES_PER_ELEMENT))
}
