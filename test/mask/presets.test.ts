import t from 'tap';
import { applyPreset, type MaskPreset } from '../../src/mask/presets.js';

// [preset, input, expected] — golden outputs, including malformed and boundary values. A value
// of the wrong shape is masked whole: a preset never reveals more than its convention.
const golden: [MaskPreset, string, string][] = [
  ['resident_id', '110101199003071234', '1101**********1234'],
  ['resident_id', '11010119900307123x', '1101**********123x'],
  ['resident_id', '11010119900307123X', '1101**********123X'],
  ['resident_id', '110101900307123', '1101*******7123'], // 15-digit legacy
  ['resident_id', '１１０１０１１９９００３０７１２３４', '1101**********1234'], // full-width digits
  ['resident_id', '110101 19900307 1234', '1101**********1234'],
  ['resident_id', '110101-19900307-1234', '1101**********1234'],
  ['resident_id', '1101011990', '**********'],
  ['resident_id', '', '****'],
  ['resident_id', 'not an id', '*********'],
  ['mobile', '13812345678', '138****5678'],
  ['mobile', '+8613812345678', '+86 138****5678'],
  ['mobile', '+86 138 1234 5678', '+86 138****5678'],
  ['mobile', '86-138-1234-5678', '86 138****5678'],
  ['mobile', '138-1234-5678', '138****5678'],
  ['mobile', '１３８１２３４５６７８', '138****5678'],
  ['mobile', '1381234567', '**********'],
  ['mobile', '12812345678', '***********'],
  ['bank_card', '6222021234567890123', '6222 **** **** 0123'],
  ['bank_card', '6222 0212 3456 7890 123', '6222 **** **** 0123'],
  ['bank_card', '4111-1111-1111-1111', '4111 **** **** 1111'],
  ['bank_card', '622202123456', '************'],
  ['bank_card_last4', '6222021234567890123', '**** 0123'],
  ['name', '张三', '张*'],
  ['name', '张三丰', '张**'],
  ['name', '欧阳娜娜', '欧阳**'],
  ['name', '司马懿', '司马*'],
  ['name', '欧阳', '欧*'], // two characters: a single surname and a given name
  ['name', '王', '*'],
  ['name', '𠀋𠀌𠀍', '𠀋**'], // supplementary-plane characters count as one each
  ['name', '李😀', '李*'],
  ['name', 'John Smith', 'J*** *****'],
  ['name', '', '****'],
  ['address', '浙江省杭州市西湖区文三路259号6栋329室', '浙江省杭州市西湖区****'],
  ['address', '北京市东城区王府井大街1号', '北京市东城区****'],
  ['address', '内蒙古自治区呼和浩特市新城区中山路1号', '内蒙古自治区呼和浩特市新城区****'],
  ['address', '文三路259号', '*******'],
  ['email', 'user42@example.com', 'u***@example.com'],
  ['email', '张三@例子.公司', '张***@例子.公司'],
  ['email', 'no-at-sign', '**********'],
  ['uscc', '91350100M000100Y43', '91350100**********'],
  ['uscc', '91350100m000100y43', '91350100**********'],
  ['uscc', '913501', '******'],
  ['fixed_phone', '010-12345678', '010-****5678'],
  ['fixed_phone', '(0571)8765432', '(0571)-***5432'],
  ['fixed_phone', '0755 1234 5678', '**************'],
  ['full', 'anything', '********'],
];

t.test('every preset gives its golden output', async (t) => {
  for (const [preset, input, expected] of golden) t.equal(applyPreset(preset, input), expected, `${preset}(${input})`);
});

t.test('no preset output contains the clear value it was given', async (t) => {
  for (const [preset, input] of golden) {
    if (input.length >= 11 && preset !== 'address' && preset !== 'email') {
      t.notMatch(applyPreset(preset, input), input, `${preset} hides ${input}`);
    }
  }
});
