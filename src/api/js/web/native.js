// The C++ natives that the web APIs call. installWebApis() binds them once per context; every other
// module in web/ reads them through this live binding instead of taking them as parameters.
export let native = null;

export function setNative(natives) {
  native = natives;
}
